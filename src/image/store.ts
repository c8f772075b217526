/**
 * Where things live in an image store and the two small indexes, readable on the hot
 * path (only ffi/fs.ts, no node:fs):
 *
 * ```
 * <root>/blobs/sha256/<hex>        layer tars (as given), configs, manifests
 * <root>/layers/<diffid-hex>/diff/  a layer unpacked once, overlayfs lower-dir form
 * <root>/layers/<diffid-hex>/layer.json  {diffId, digest, size, mediaType}
 * <root>/repositories.json         {"name:tag": "sha256:<manifest digest>"}
 * <root>/images.json               {"sha256:<image id>": "sha256:<manifest digest>"}
 * <root>/tmp/                       staging; everything is renamed into place whole
 * <root>/lock                       O_EXCL lock file for read-modify-write of the indexes
 * ```
 */

import { isNotFound, readJson, readJsonOr } from "../../ffi/fs.ts";
import { NotFoundError } from "../errors.ts";
import { digestHex } from "./digest.ts";

/** repositories.json: tag key (`name:tag`) → manifest digest. */
export type Repositories = Record<string, string>;
/** images.json: image ID (config digest) → manifest digest. Also lists untagged images. */
export type ImageIndex = Record<string, string>;

/** What layers/<diffid-hex>/layer.json records. */
export interface LayerRecord {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Digest of the blob the layer was unpacked from (compressed as given). */
  digest: string;
  /** Bytes of file content unpacked. */
  size: number;
  /** Media type of that blob. */
  mediaType: string;
}

/** Path helpers for a store root. */
export function storePaths(root: string) {
  return {
    blobs: `${root}/blobs/sha256`,
    blob: (digest: string) => `${root}/blobs/sha256/${digestHex(digest)}`,
    layers: `${root}/layers`,
    layer: (diffId: string) => `${root}/layers/${digestHex(diffId)}`,
    layerDiff: (diffId: string) => `${root}/layers/${digestHex(diffId)}/diff`,
    layerJson: (diffId: string) => `${root}/layers/${digestHex(diffId)}/layer.json`,
    repositories: `${root}/repositories.json`,
    images: `${root}/images.json`,
    tmp: `${root}/tmp`,
    lock: `${root}/lock`,
  };
}

/** Reads repositories.json (empty when the store is new). */
export function readRepositories(root: string): Promise<Repositories> {
  return readJsonOr<Repositories>(storePaths(root).repositories, {});
}

/** Reads images.json (empty when the store is new). */
export function readImageIndex(root: string): Promise<ImageIndex> {
  return readJsonOr<ImageIndex>(storePaths(root).images, {});
}

/** Reads and parses a JSON blob; NotFoundError when it is missing. */
export async function readJsonBlob<T>(root: string, digest: string): Promise<T> {
  try {
    return await readJson<T>(storePaths(root).blob(digest));
  } catch (e) {
    if (isNotFound(e)) {
      throw new NotFoundError(`blob ${digest} is missing from the image store`, { cause: e });
    }
    throw e;
  }
}
