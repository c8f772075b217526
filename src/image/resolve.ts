/**
 * Resolving an image reference to what a container start needs: the config and the layer
 * directories, bottom first. This is on the container-start hot path, so it reads only a
 * few small JSON files through ffi/fs.ts and never loads node:fs.
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { isDigest } from "./digest.ts";
import type { ImageConfig, Manifest } from "./oci.ts";
import { parseReference } from "./reference.ts";
import {
  type ImageIndex,
  readImageIndex,
  readJsonBlob,
  readRepositories,
  type Repositories,
  storePaths,
} from "./store.ts";

/** An image as the engine uses it. */
export interface Image {
  /** Image ID: the config digest (`sha256:…`), as Docker shows it. */
  id: string;
  manifestDigest: string;
  /** The OCI image config. */
  config: ImageConfig;
  /** Absolute paths of each layer's `diff/` directory, bottom layer first. */
  layerDirs: string[];
  /** The `name:tag` references pointing at this image. */
  repoTags: string[];
}

/** Finds the image ID a reference or ID names, or null. Throws UsageError when ambiguous. */
export async function findImageId(root: string, refOrId: string): Promise<string | null> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  return lookup(index, repos, refOrId);
}

function lookup(index: ImageIndex, repos: Repositories, refOrId: string): string | null {
  if (isDigest(refOrId)) return index[refOrId] !== undefined ? refOrId : null;
  const byManifest = (m: string) => Object.keys(index).find((id) => index[id] === m) ?? null;
  const isHex = /^[a-f0-9]{3,64}$/.test(refOrId);
  let ref;
  try {
    ref = parseReference(refOrId);
  } catch (e) {
    if (!isHex) throw e;
  }
  if (ref) {
    if (ref.digest) return byManifest(ref.digest);
    const m = repos[`${ref.name}:${ref.tag}`];
    if (m !== undefined) return byManifest(m);
    if (refOrId.includes(":") || !isHex) return null;
  }
  const matches = Object.keys(index).filter((id) => id.startsWith("sha256:" + refOrId));
  if (matches.length > 1) {
    throw new UsageError(
      `image id prefix ${refOrId} is ambiguous (${matches.length} images match)`,
    );
  }
  return matches[0] ?? null;
}

/** The tags pointing at a manifest. */
export function tagsOf(repos: Record<string, string>, manifestDigest: string): string[] {
  return Object.keys(repos).filter((k) => repos[k] === manifestDigest).sort();
}

/**
 * Resolves `name:tag`, `name@sha256:…`, a full image ID or a unique ID prefix (≥ 3 hex
 * digits). Unknown images are NotFoundError "no such image: X".
 *
 * @example
 * ```ts
 * const img = await resolveImage("/var/lib/hako/images", "alpine:3.20");
 * img.layerDirs; // ["/var/lib/hako/images/layers/<hex>/diff", ...]
 * ```
 */
export async function resolveImage(root: string, refOrId: string): Promise<Image> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  const id = lookup(index, repos, refOrId);
  if (id === null) throw new NotFoundError(`no such image: ${refOrId}`);
  const manifestDigest = index[id];
  if (manifestDigest === undefined) throw new NotFoundError(`no such image: ${refOrId}`);
  const manifest = await readJsonBlob<Manifest>(root, manifestDigest);
  const config = await readJsonBlob<ImageConfig>(root, manifest.config.digest);
  const paths = storePaths(root);
  return {
    id,
    manifestDigest,
    config,
    layerDirs: config.rootfs.diff_ids.map((d) => paths.layerDiff(d)),
    repoTags: tagsOf(repos, manifestDigest),
  };
}
