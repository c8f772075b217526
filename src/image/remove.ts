/**
 * `hako rmi`: untags, and deletes an image when its last reference goes, with the layers
 * and blobs no other image uses. Runs under the store lock so a concurrent import or tag
 * sees either the old or the new state.
 */

import * as fs from "node:fs/promises";
import { writeJsonAtomic } from "../../ffi/fs.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { withStoreLock } from "./lock.ts";
import type { ImageConfig, Manifest } from "./oci.ts";
import { parseReference } from "./reference.ts";
import { findImageId, tagsOf } from "./resolve.ts";
import { readImageIndex, readJsonBlob, readRepositories, storePaths } from "./store.ts";
import { sortKeys } from "./write_image.ts";

/** Options for removeImage. */
export interface RemoveOptions {
  /** Remove even when several tags or a container refer to the image. */
  force?: boolean;
  /** Whether a container uses the image (by image ID); default: none does. */
  inUse?: (imageId: string) => boolean | Promise<boolean>;
}

/** What removeImage did, like Docker's `[{Untagged}, {Deleted}]` list. */
export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/**
 * Removes `ref` (`name:tag`, ID or ID prefix). Removing one of several tags only untags.
 * Removing the last reference deletes the image unless a container uses it: then
 * ConflictError, or with `force` the tags go and the image stays (untagged) so running
 * containers keep their layers.
 *
 * @example
 * ```ts
 * await removeImage("/var/lib/hako/images", "mybox:1", { inUse: (id) => false });
 * ```
 */
export async function removeImage(
  root: string,
  ref: string,
  opts: RemoveOptions = {},
): Promise<RemoveResult> {
  return await withStoreLock(root, async () => {
    const paths = storePaths(root);
    const id = await findImageId(root, ref);
    if (id === null) throw new NotFoundError(`no such image: ${ref}`);
    const index = await readImageIndex(root);
    const repos = await readRepositories(root);
    const manifestDigest = index[id];
    const tags = tagsOf(repos, manifestDigest);
    let byTag: string | undefined;
    try {
      const r = parseReference(ref);
      if (!r.digest && repos[`${r.name}:${r.tag}`] === manifestDigest) byTag = `${r.name}:${r.tag}`;
    } catch { /* an ID prefix */ }
    const result: RemoveResult = { untagged: [], deleted: [] };
    const untag = async (keys: string[]) => {
      for (const k of keys) delete repos[k];
      await writeJsonAtomic(paths.repositories, sortKeys(repos));
      result.untagged.push(...keys);
    };
    if (byTag && tags.length > 1) {
      await untag([byTag]);
      return result;
    }
    if (!byTag && tags.length > 1 && !opts.force) {
      throw new ConflictError(
        `unable to remove image ${ref}: referenced by ${tags.length} tags (${
          tags.join(", ")
        }); remove the tags or use -f`,
      );
    }
    if (await opts.inUse?.(id)) {
      if (!opts.force) {
        throw new ConflictError(`unable to remove image ${ref}: in use by a container (use -f)`);
      }
      if (tags.length) await untag(tags);
      return result;
    }
    if (tags.length) await untag(tags);
    delete index[id];
    await writeJsonAtomic(paths.images, index);
    result.deleted.push(id);
    // What the remaining images still need.
    const keepBlobs = new Set<string>(), keepLayers = new Set<string>();
    for (const m of Object.values(index)) {
      const man = await readJsonBlob<Manifest>(root, m).catch(() => null);
      if (!man) continue;
      keepBlobs.add(m).add(man.config.digest);
      for (const l of man.layers) keepBlobs.add(l.digest);
      const cfg = await readJsonBlob<ImageConfig>(root, man.config.digest).catch(() => null);
      for (const d of cfg?.rootfs.diff_ids ?? []) keepLayers.add(d);
    }
    const manifest = await readJsonBlob<Manifest>(root, manifestDigest).catch(() => null);
    const config = manifest
      ? await readJsonBlob<ImageConfig>(root, manifest.config.digest).catch(() => null)
      : null;
    for (const d of config?.rootfs.diff_ids ?? []) {
      if (keepLayers.has(d)) continue;
      // Move it aside first, so layers/ never shows a half-deleted layer.
      const trash = `${paths.tmp}/rm-${crypto.randomUUID()}`;
      await fs.mkdir(paths.tmp, { recursive: true });
      if (await fs.rename(paths.layer(d), trash).then(() => true, () => false)) {
        await fs.rm(trash, { recursive: true, force: true });
      }
      result.deleted.push(d);
    }
    const blobs = [
      manifestDigest,
      manifest?.config.digest,
      ...(manifest?.layers ?? []).map((l) => l.digest),
    ];
    for (const b of blobs) {
      if (b && !keepBlobs.has(b)) await fs.rm(paths.blob(b), { force: true });
    }
    return result;
  });
}
