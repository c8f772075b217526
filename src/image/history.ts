/**
 * `hako history`: an image's steps, newest first, each with the layer it made (or none for
 * a config-only step) and that layer's size, like `docker history`.
 */

import { readJsonOr } from "../../ffi/fs.ts";
import { resolveImage } from "./resolve.ts";
import { type LayerRecord, storePaths } from "./store.ts";

/** One row of `hako history`. */
export interface HistoryRow {
  /** The image ID on the top row, "<missing>" below (as Docker shows layers it did not build). */
  id: string;
  created: string;
  createdBy: string;
  /** Unpacked size of the step's layer in bytes (0 for config-only steps). */
  size: number;
  comment: string;
  /** The layer's diff_id, when the step made one. */
  diffId?: string;
}

/**
 * Lists an image's history, newest first.
 *
 * @example
 * ```ts
 * for (const r of await imageHistory(root, "webapp:2")) console.log(r.createdBy, r.size);
 * ```
 */
export async function imageHistory(root: string, ref: string): Promise<HistoryRow[]> {
  const img = await resolveImage(root, ref);
  const diffIds = [...img.config.rootfs.diff_ids];
  const paths = storePaths(root);
  const sizeOf = async (d: string) =>
    (await readJsonOr<LayerRecord | null>(paths.layerJson(d), null))?.size ?? 0;
  const rows: HistoryRow[] = [];
  let li = 0;
  const history = img.config.history ?? [];
  for (const h of history) {
    let diffId: string | undefined;
    if (!h.empty_layer) diffId = diffIds[li++];
    rows.push({
      id: "<missing>",
      created: h.created ?? "",
      createdBy: h.created_by ?? "",
      size: diffId ? await sizeOf(diffId) : 0,
      comment: h.comment ?? "",
      diffId,
    });
  }
  // Layers the history does not describe (an image written without history).
  for (; li < diffIds.length; li++) {
    rows.push({
      id: "<missing>",
      created: img.config.created ?? "",
      createdBy: "",
      size: await sizeOf(diffIds[li]),
      comment: "",
      diffId: diffIds[li],
    });
  }
  rows.reverse();
  if (rows.length) rows[0].id = img.id;
  return rows;
}
