/**
 * `hako push`: every blob of the image (layers, then config) the registry lacks is sent —
 * a HEAD first, so nothing present is sent twice; a cross-repository mount when another
 * repository on the same registry is known to hold it; an upload otherwise — and then the
 * manifest, byte for byte as stored, so the registry names the image by the same digests.
 */

import { exists, readFile } from "../../ffi/fs.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import type { Manifest } from "../image/oci.ts";
import { resolveImage } from "../image/resolve.ts";
import { storePaths } from "../image/store.ts";
import { Repository } from "./client.ts";
import { withDefaults } from "./credentials.ts";
import { RegistryProtocolError } from "./errors.ts";
import { MEDIA_TYPES } from "./manifest.ts";
import { forEachLimit } from "./pool.ts";
import { Progress } from "./progress.ts";
import { familiarName, familiarString, parseRemote } from "./reference.ts";
import { addBlobSources, blobSources } from "./sources.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import { uploadBlob } from "./upload.ts";

/** Options for pushImage. */
export interface PushOptions extends TransportOptions {
  /** Where progress goes (default: nowhere). */
  progress?: Progress;
  /** Blobs uploaded at once (default 5). */
  concurrency?: number;
  /** Blobs larger than this go in PATCH chunks of this size (default 32 MiB). */
  chunkSize?: number;
}

/** What happened to one blob. */
export type BlobAction = "exists" | "mounted" | "pushed";

/** What a push did. */
export interface PushResult {
  /** The remote reference pushed to, in familiar form. */
  reference: string;
  /** Manifest digest (as the registry computed it). */
  digest: string;
  /** Manifest size in bytes. */
  size: number;
  blobs: { digest: string; size: number; action: BlobAction }[];
  /** Blob bytes uploaded. */
  bytesUploaded: number;
}

/**
 * Pushes a local image to a registry: `source` names the local image, `dest` the remote
 * reference (default: `source` itself, which must then name a registry repository).
 *
 * @example
 * ```ts
 * await pushImage("/var/lib/hako", "webapp:2", "127.0.0.1:5000/webapp:2");
 * ```
 */
export async function pushImage(
  root: string,
  source: string,
  dest?: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const img = await resolveImage(root, source);
  const target = dest ?? source;
  if (!dest && /^(sha256:)?[a-f0-9]{3,64}$/.test(source)) {
    throw new UsageError(`push ${source}: give the destination reference for an image ID`);
  }
  const remote = parseRemote(target);
  if (remote.digest && remote.digest !== img.manifestDigest) {
    throw new UsageError(`push ${target}: the image's manifest digest is ${img.manifestDigest}`);
  }
  const paths = storePaths(root);
  const manifestBytes = await readFile(paths.blob(img.manifestDigest));
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as Manifest;
  const mediaType = manifest.mediaType ?? MEDIA_TYPES.ociManifest;
  const blobs = [...new Map([...manifest.layers, manifest.config].map((d) => [d.digest, d]))
    .values()];
  for (const b of blobs) {
    if (!(await exists(paths.blob(b.digest)))) {
      throw new NotFoundError(
        `push ${target}: blob ${b.digest} of image ${img.id} is missing from the store`,
      );
    }
  }
  const progress = opts.progress ?? new Progress("quiet", () => {});
  const t = await Transport.connect(remote.registry, await withDefaults(remote.registry, opts));
  const repoLabel = `${remote.registry}/${remote.repository}`;
  let bytesUploaded = 0;
  try {
    const repo = new Repository(t, remote.repository, true);
    progress.log(`The push refers to repository [${familiarName(remote)}]`);
    const actions = new Map<string, BlobAction>();
    const bars = new Map(blobs.map((b) => [b.digest, progress.bar(b.digest.slice(7, 19))]));
    for (const b of blobs) bars.get(b.digest)!.status("Preparing");
    await forEachLimit(blobs, opts.concurrency ?? 5, async (b) => {
      const bar = bars.get(b.digest)!;
      if (await repo.hasBlob(b.digest)) {
        actions.set(b.digest, "exists");
        return bar.status("Layer already exists");
      }
      let location: string | null = null;
      const from = (await blobSources(root, b.digest))
        .filter((s) => s.startsWith(`${remote.registry}/`) && s !== repoLabel)
        .map((s) => s.slice(remote.registry.length + 1));
      for (const f of from.slice(0, 2)) {
        const r = await repo.startUpload(b.digest, f);
        if (r === "mounted") {
          actions.set(b.digest, "mounted");
          return bar.status(`Mounted from ${f}`);
        }
        location = r;
        break; // a refused mount opened an upload session: use it
      }
      location ??= await repo.startUpload();
      if (location === "mounted") return;
      bar.start("Pushing", b.size);
      await uploadBlob(repo, location, {
        digest: b.digest,
        size: b.size,
        path: paths.blob(b.digest),
      }, {
        chunkSize: opts.chunkSize,
        onBytes: (n) => {
          bar.add(n);
          bytesUploaded += n;
        },
      });
      actions.set(b.digest, "pushed");
      bar.finish("Pushed");
    });
    const ref = remote.tag ?? remote.digest!;
    const digest = await repo.putManifest(ref, manifestBytes, mediaType);
    if (digest !== img.manifestDigest) {
      throw new RegistryProtocolError(
        `push ${target}: the registry computed manifest digest ${digest}, expected ${img.manifestDigest}`,
      );
    }
    await addBlobSources(root, repoLabel, blobs.map((b) => b.digest)).catch(() => {});
    progress.log(`${ref}: digest: ${digest} size: ${manifestBytes.length}`);
    return {
      reference: familiarString(remote),
      digest,
      size: manifestBytes.length,
      blobs: blobs.map((b) => ({ digest: b.digest, size: b.size, action: actions.get(b.digest)! })),
      bytesUploaded,
    };
  } finally {
    t.close();
  }
}
