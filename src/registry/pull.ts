/**
 * `hako pull`: manifest (from an index, the one for the wanted platform) → config → the
 * layers the store lacks, a few at a time, each streamed through storeLayerFromTar (blob
 * digest and diff_id verified in the same pass, nothing partial kept) → the image indexed
 * under its registry digests, byte for byte, so its ID is the one the registry names.
 *
 * A layer is fetched only when the store lacks its diff_id or the blob; a store that has
 * webapp:1 pulls webapp:2 by fetching only the layers that changed.
 */

import { exists, readFile } from "../../ffi/fs.ts";
import { HakoError, InvalidDataError } from "../errors.ts";
import { isDigest } from "../image/digest.ts";
import { hostArchitecture } from "../image/import.ts";
import { storeLayerFromTar } from "../image/layer.ts";
import type { Descriptor, ImageConfig, Manifest } from "../image/oci.ts";
import { putImage } from "../image/put_image.ts";
import { readRepositories, storePaths } from "../image/store.ts";
import { Repository, sha256Digest } from "./client.ts";
import { withDefaults } from "./credentials.ts";
import { BlobDownload } from "./download.ts";
import {
  formatPlatform,
  parseManifest,
  parsePlatform,
  type Platform,
  platformMatches,
  selectPlatform,
} from "./manifest.ts";
import { forEachLimit } from "./pool.ts";
import { Progress } from "./progress.ts";
import { familiarString, localTagKey, parseRemote } from "./reference.ts";
import { addBlobSources } from "./sources.ts";
import { Transport, type TransportOptions } from "./transport.ts";

/** Options for pullImage. */
export interface PullOptions extends TransportOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index (default: this host). */
  platform?: string;
  /** Where progress goes (default: nowhere). */
  progress?: Progress;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
  /** Resumes of a cut layer download before giving up (default 5). */
  maxResumes?: number;
}

/** What a pull did. */
export interface PullResult {
  /** The reference as stored locally (`alpine:3.20`, `127.0.0.1:5000/app@sha256:…`). */
  reference: string;
  /** Image ID (config digest). */
  id: string;
  manifestDigest: string;
  /** Per layer: its digest, blob size and whether it was downloaded. */
  layers: { digest: string; size: number; downloaded: boolean }[];
  /** Blob bytes received (config and layers, resumed parts once). */
  bytesDownloaded: number;
  /** True when nothing had to be fetched and the tag already pointed at the image. */
  upToDate: boolean;
}

/** This host's platform, as indexes name it. */
export function hostPlatform(): Platform {
  return { os: "linux", architecture: hostArchitecture() };
}

function prefixed(e: unknown, prefix: string): unknown {
  if (!(e instanceof HakoError) || e.constructor.length > 2) return e;
  const C = e.constructor as new (m: string, o?: { cause?: unknown }) => HakoError;
  return new C(`${prefix}: ${e.message}`, { cause: e });
}

/**
 * Pulls an image into the store at `root` and tags it (unless pulled by digest).
 *
 * @example
 * ```ts
 * const r = await pullImage("/var/lib/hako", "127.0.0.1:5000/webapp:2");
 * r.layers.filter((l) => l.downloaded).length; // only the layers the store lacked
 * ```
 */
export async function pullImage(
  root: string,
  ref: string,
  opts: PullOptions = {},
): Promise<PullResult> {
  const remote = parseRemote(ref);
  const what = familiarString(remote);
  const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const progress = opts.progress ?? new Progress("quiet", () => {});
  const t = await Transport.connect(remote.registry, await withDefaults(remote.registry, opts));
  try {
    const repo = new Repository(t, remote.repository);
    progress.log(`${remote.tag ?? remote.digest}: Pulling from ${remote.repository}`);
    let fetched = await repo.getManifest(remote.digest ?? remote.tag!);
    let parsed = parseManifest(fetched.bytes, fetched.contentType, what);
    if (parsed.kind === "index") {
      const entry = selectPlatform(parsed.manifests, want, what);
      fetched = await repo.getManifest(entry.digest);
      parsed = parseManifest(fetched.bytes, fetched.contentType, what);
      if (parsed.kind !== "image") {
        throw new InvalidDataError(`malformed manifest for ${what}: an index inside an index`);
      }
    }
    const manifest: Manifest = parsed.manifest;
    const paths = storePaths(root);
    let bytesDownloaded = 0;

    const configBlob = paths.blob(manifest.config.digest);
    let configBytes: Uint8Array;
    if (await exists(configBlob)) configBytes = await readFile(configBlob);
    else {
      configBytes = await repo.getSmallBlob(manifest.config);
      bytesDownloaded += configBytes.length;
    }
    if (sha256Digest(configBytes) !== manifest.config.digest) {
      throw new InvalidDataError(`config of ${what} does not match its digest`);
    }
    const config = checkConfig(configBytes, manifest, what);
    if (opts.platform && !platformMatches(config, want)) {
      throw new InvalidDataError(
        `${what} is for ${formatPlatform(config)}, not the requested ${formatPlatform(want)}`,
      );
    }
    const diffIds = config.rootfs.diff_ids;
    const layers = await Promise.all(manifest.layers.map(async (l, i) => ({
      desc: l,
      diffId: diffIds[i],
      present: await exists(paths.layerJson(diffIds[i])) && await exists(paths.blob(l.digest)),
    })));
    // The same blob twice in one image (empty layers) is fetched once.
    const todo = [...new Map(layers.filter((l) => !l.present).map((l) => [l.desc.digest, l]))
      .values()];
    const bars = new Map(layers.map((l) => [l.desc.digest, progress.bar(short(l.desc.digest))]));
    for (const l of layers) {
      bars.get(l.desc.digest)!.status(l.present ? "Already exists" : "Waiting");
    }
    const running = new Set<BlobDownload>();
    await forEachLimit(todo, opts.concurrency ?? 3, async (l) => {
      const bar = bars.get(l.desc.digest)!;
      const dl = new BlobDownload(repo, l.desc, {
        maxResumes: opts.maxResumes,
        onBytes: (n) => {
          bar.add(n);
          bytesDownloaded += n;
        },
        verify: false, // storeLayerFromTar checks the digest as it writes the blob
        onResume: (at) =>
          progress.log(`${short(l.desc.digest)}: connection lost at byte ${at}, resuming`),
      });
      running.add(dl);
      bar.start("Downloading", l.desc.size);
      try {
        await storeLayer(root, dl, l.desc, l.diffId);
      } catch (e) {
        throw prefixed(e, `pull ${what}: layer ${l.desc.digest}`);
      } finally {
        running.delete(dl);
        dl.close();
      }
      bar.finish("Pull complete");
    }, () => {
      for (const dl of running) dl.abort();
    });

    const key = localTagKey(remote);
    const before = key ? (await readRepositories(root))[key] : undefined;
    const { id, manifestDigest } = await putImage(
      root,
      configBytes,
      fetched.bytes,
      key ? [key] : [],
    );
    await addBlobSources(root, `${remote.registry}/${remote.repository}`, [
      manifest.config.digest,
      ...manifest.layers.map((l) => l.digest),
    ]).catch(() => {});
    const upToDate = todo.length === 0 && before === manifestDigest;
    const local = key ?? `${familiarString({ ...remote, tag: undefined })}`;
    progress.log(`Digest: ${manifestDigest}`);
    progress.log(
      upToDate
        ? `Status: Image is up to date for ${local}`
        : `Status: Downloaded newer image for ${local}`,
    );
    return {
      reference: local,
      id,
      manifestDigest,
      layers: layers.map((l) => ({
        digest: l.desc.digest,
        size: l.desc.size,
        downloaded: !l.present,
      })),
      bytesDownloaded,
      upToDate,
    };
  } finally {
    t.close();
  }
}

/** Streams one layer into the store; a corrupt archive is reported as the digest mismatch it is. */
async function storeLayer(root: string, dl: BlobDownload, desc: Descriptor, diffId: string) {
  try {
    await storeLayerFromTar(root, dl.stream(), { digest: desc.digest, diffId });
  } catch (e) {
    // The download's own failure, not the decompressor's wrapping of it.
    if (dl.error !== null) throw dl.error;
    // A gzip or tar error part-way may be the symptom of bytes that are not the blob's:
    // fetch it once more, hashing only, so the error names the cause.
    if (e instanceof InvalidDataError && !/digest mismatch/.test(e.message)) {
      await new BlobDownload(dl.repo, desc, { maxResumes: dl.opts.maxResumes }).checkRest();
    }
    throw e;
  }
}

function short(digest: string): string {
  return digest.slice(7, 19);
}

/** Parses and checks the config against the manifest. */
function checkConfig(bytes: Uint8Array, manifest: Manifest, what: string): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InvalidDataError(`image config of ${what} is not valid JSON`);
  }
  const ids = config?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === "string" && isDigest(d))) {
    throw new InvalidDataError(`image config of ${what} has no valid rootfs.diff_ids`);
  }
  if (ids.length !== manifest.layers.length) {
    throw new InvalidDataError(
      `image config of ${what} lists ${ids.length} layers but its manifest ${manifest.layers.length}`,
    );
  }
  return config;
}
