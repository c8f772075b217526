/**
 * Recording an image from its exact config and manifest bytes, as a registry (or an
 * archive) gave them, so its image ID (config digest) and manifest digest are the same
 * everywhere the image travels. Its layers must already be stored (storeLayerFromTar).
 * writeImage, by contrast, makes new config and manifest documents.
 */

import { InvalidDataError } from "../errors.ts";
import { putBlob } from "./blob.ts";
import type { ImageConfig } from "./oci.ts";
import { indexImage } from "./write_image.ts";

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
  await indexImage(root, id, manifestDigest, diffIds, tags);
  return { id, manifestDigest };
}
