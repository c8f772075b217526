/**
 * `hako import`: makes a one-layer image from a rootfs tarball (plain, gzip or zstd, told
 * apart by magic bytes), a directory (packed deterministically) or a stream (`-` = stdin).
 */

import * as fs from "node:fs/promises";
import process from "node:process";
import { HakoError, InvalidDataError } from "../errors.ts";
import { type ByteSource, type StoredLayer, storeLayerFromTar } from "./layer.ts";
import { type ContainerConfig, DEFAULT_PATH_ENV, type ImageConfig } from "./oci.ts";
import { packDirectory } from "./pack.ts";
import { tagKey } from "./reference.ts";
import { type Image, resolveImage } from "./resolve.ts";
import { writeImage } from "./write_image.ts";

/** Options for importImage. */
export interface ImportOptions {
  /** Merged into the image's `config` (Env defaults to the standard PATH). */
  config?: ContainerConfig;
  /** History comment (`docker import -m`). */
  message?: string;
  /** Creation time (default now); fix it for reproducible image IDs. */
  created?: Date;
}

/** OCI architecture name of this host. */
export function hostArchitecture(): string {
  const a = process.arch as string;
  return a === "x64" ? "amd64" : a === "ia32" ? "386" : a;
}

/**
 * Imports a root filesystem as a new one-layer image and tags it with `ref` when given.
 * `source` is a path (tar file or directory), `"-"` for stdin, or a byte stream.
 * A source that is not a tar is InvalidDataError "import <source>: not a tar archive" and
 * leaves the store unchanged.
 *
 * @example
 * ```ts
 * const img = await importImage("/var/lib/hako/images", "rootfs.tar.gz", "mybox:1");
 * ```
 */
export async function importImage(
  root: string,
  source: string | AsyncIterable<Uint8Array>,
  ref?: string,
  opts: ImportOptions = {},
): Promise<Image> {
  const key = ref !== undefined ? tagKey(ref) : undefined; // reject a bad ref before any work
  const label = source === "-" ? "stdin" : typeof source === "string" ? source : "<stream>";
  let input: ByteSource;
  if (source === "-") input = process.stdin as AsyncIterable<Uint8Array>;
  else if (typeof source === "string") {
    const st = await fs.stat(source).catch((e) => {
      throw new HakoError(`import ${source}: ${(e as Error).message}`, { cause: e });
    });
    input = st.isDirectory() ? packDirectory(source) : source;
  } else input = source;
  let layer: StoredLayer;
  try {
    layer = await storeLayerFromTar(root, input);
  } catch (e) {
    if (e instanceof InvalidDataError) {
      throw new InvalidDataError(`import ${label}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  const created = (opts.created ?? new Date()).toISOString();
  const config: ImageConfig = {
    created,
    architecture: hostArchitecture(),
    os: "linux",
    config: { Env: [DEFAULT_PATH_ENV], ...opts.config },
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
    history: [{
      created,
      created_by: `hako import ${label}`,
      ...(opts.message ? { comment: opts.message } : {}),
    }],
  };
  const { id } = await writeImage(root, config, [layer], key ? [key] : []);
  return resolveImage(root, id);
}
