/**
 * Recording an image whose layers are already stored: writes the config and manifest
 * blobs, then (under the store lock) adds it to images.json and points tags at it.
 * Used by import, and later by commit, build, load and pull.
 */

import { exists, writeJsonAtomic } from "../../ffi/fs.ts";
import { ConflictError } from "../errors.ts";
import { putBlob } from "./blob.ts";
import { withStoreLock } from "./lock.ts";
import { CONFIG_MEDIA_TYPE, type ImageConfig, type Manifest, MANIFEST_MEDIA_TYPE } from "./oci.ts";
import { readImageIndex, readRepositories, storePaths } from "./store.ts";

/** A stored layer as the manifest lists it. */
export interface LayerBlob {
  /** Digest of the layer blob (compressed as stored). */
  digest: string;
  /** Size of the layer blob in bytes. */
  blobSize: number;
  mediaType: string;
}

/**
 * Writes config + manifest and indexes the image; `tags` are `name:tag` keys.
 * Returns the image ID (config digest) and manifest digest.
 */
export async function writeImage(
  root: string,
  config: ImageConfig,
  layers: LayerBlob[],
  tags: string[] = [],
): Promise<{ id: string; manifestDigest: string }> {
  const configBlob = await putBlob(root, JSON.stringify(config));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: CONFIG_MEDIA_TYPE, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blobSize })),
  };
  const manifestBlob = await putBlob(root, JSON.stringify(manifest));
  const id = configBlob.digest, manifestDigest = manifestBlob.digest;
  await indexImage(root, id, manifestDigest, config.rootfs.diff_ids, tags);
  return { id, manifestDigest };
}

/**
 * Records a stored image (config and manifest blobs written) in images.json and tags it,
 * under the store lock. A concurrent rmi may have deleted a layer this image shares between
 * its storing and now: refuse rather than index an image that cannot start.
 */
export async function indexImage(
  root: string,
  id: string,
  manifestDigest: string,
  diffIds: string[],
  tags: string[],
): Promise<void> {
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
}

/** A copy of an object with its keys sorted, so index files diff cleanly. */
export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
