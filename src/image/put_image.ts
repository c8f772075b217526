/**
 * Recording an image from its exact config and manifest bytes, as a registry (or an
 * archive) gave them, so its image ID (config digest) and manifest digest are the same
 * everywhere the image travels. Its layers must already be stored (storeLayerFromTar).
 * writeImage, by contrast, makes new config and manifest documents.
 */

import { exists, writeJsonAtomic } from "../../ffi/fs.ts";
import { ConflictError, InvalidDataError } from "../errors.ts";
import { putBlob } from "./blob.ts";
import { withStoreLock } from "./lock.ts";
import type { ImageConfig } from "./oci.ts";
import { readImageIndex, readRepositories, storePaths } from "./store.ts";
import { sortKeys } from "./write_image.ts";

/**
 * Stores config and manifest blobs byte for byte and indexes the image; `tags` are
 * `name:tag` keys. Returns the image ID and manifest digest.
 *
 * @example
 * ```ts
 * const { id } = await putImage(root, configBytes, manifestBytes, ["127.0.0.1:5000/app:2"]);
 * ```
 */
export async function putImage(
  root: string,
  configBytes: Uint8Array,
  manifestBytes: Uint8Array,
  tags: string[] = [],
): Promise<{ id: string; manifestDigest: string }> {
  let config: ImageConfig;
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes));
  } catch {
    throw new InvalidDataError("image config is not valid JSON");
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds)) throw new InvalidDataError("image config has no rootfs.diff_ids");
  const { digest: id } = await putBlob(root, configBytes);
  const { digest: manifestDigest } = await putBlob(root, manifestBytes);
  await withStoreLock(root, async () => {
    const paths = storePaths(root);
    for (const d of diffIds) {
      if (!(await exists(paths.layerJson(d)))) {
        throw new ConflictError(`layer ${d} of the new image was removed meanwhile; try again`);
      }
    }
    const index = await readImageIndex(root);
    if (index[id] !== manifestDigest) {
      index[id] = manifestDigest;
      await writeJsonAtomic(paths.images, index);
    }
    if (tags.length) {
      const repos = await readRepositories(root);
      for (const t of tags) repos[t] = manifestDigest;
      await writeJsonAtomic(paths.repositories, sortKeys(repos));
    }
  });
  return { id, manifestDigest };
}
