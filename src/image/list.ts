/** `hako images`: every image in the store with its tags, creation time and size. */

import { readJsonOr } from "../../ffi/fs.ts";
import type { ImageConfig, Manifest } from "./oci.ts";
import { tagsOf } from "./resolve.ts";
import {
  type LayerRecord,
  readImageIndex,
  readJsonBlob,
  readRepositories,
  storePaths,
} from "./store.ts";

/** One row of `hako images`. */
export interface ImageSummary {
  id: string;
  repoTags: string[];
  /** ISO 8601 creation time from the config ("" when absent). */
  created: string;
  /** Sum of the unpacked sizes of the image's layers, in bytes. */
  size: number;
}

/**
 * Lists images, newest first.
 *
 * @example
 * ```ts
 * for (const img of await listImages("/var/lib/hako/images")) console.log(img.repoTags, img.size);
 * ```
 */
export async function listImages(root: string): Promise<ImageSummary[]> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  const paths = storePaths(root);
  const out = await Promise.all(
    Object.entries(index).map(async ([id, manifestDigest]) => {
      const manifest = await readJsonBlob<Manifest>(root, manifestDigest);
      const config = await readJsonBlob<ImageConfig>(root, manifest.config.digest);
      let size = 0;
      for (const d of config.rootfs.diff_ids) {
        size += (await readJsonOr<LayerRecord | null>(paths.layerJson(d), null))?.size ?? 0;
      }
      return { id, repoTags: tagsOf(repos, manifestDigest), created: config.created ?? "", size };
    }),
  );
  return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
}
