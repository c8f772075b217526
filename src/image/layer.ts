/**
 * Storing a layer from a tar stream in ONE pass: the bytes as given are written to a blob
 * and hashed (the layer digest), decompressed (gzip/zstd by magic bytes) and hashed again
 * (the diff_id), and parsed and unpacked into a staging dir. Only when everything
 * verified is the blob renamed into blobs/ and the unpacked dir into layers/<diffid>/;
 * a failure leaves nothing behind.
 */

import * as fs from "node:fs/promises";
import { createHash } from "node:crypto";
import { ConflictError, InvalidDataError } from "../errors.ts";
import { BlobWriter } from "./blob.ts";
import {
  type Compression,
  decompress,
  detectCompression,
  GzipSink,
  layerMediaType,
} from "./compression.ts";
import { hexDigest } from "./digest.ts";
import { withStoreLock } from "./lock.ts";
import { type LayerRecord, storePaths } from "./store.ts";
import { readTar } from "./tar_reader.ts";
import { unpackEntries } from "./unpack.ts";

/** A stored layer: its record plus the blob's size and compression. */
export interface StoredLayer extends LayerRecord {
  /** Size in bytes of the blob (as given, compressed or not). */
  blobSize: number;
  compression: Compression;
}

/** Expected digests to verify, as a registry manifest or an image config gives them. */
export interface LayerExpectations {
  /** Digest of the blob as given. */
  digest?: string;
  /** sha256 of the uncompressed tar. */
  diffId?: string;
}

/** How to store a layer. */
export interface StoreOptions {
  /** Compress an uncompressed tar into the blob (layers hako makes itself). */
  compress?: "gzip";
  /**
   * The source path is a file of this store's tmp/ (a load's staging) that may be moved
   * into blobs/ instead of copied.
   */
  adopt?: boolean;
}

/** A readable source: a file path or a stream of chunks (e.g. a fetch body, stdin). */
export type ByteSource = string | AsyncIterable<Uint8Array>;

/** Reads a file as a stream of chunks. */
export async function* readFileChunks(path: string): AsyncGenerator<Uint8Array> {
  const fh = await fs.open(path, "r");
  try {
    for (;;) {
      const buf = new Uint8Array(1024 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function* toBytes(src: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    yield typeof c === "string"
      ? new TextEncoder().encode(c)
      : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  }
}

/** Splits off the first bytes of a stream to sniff them, then yields everything. */
async function peek(src: AsyncIterable<Uint8Array>, n: number) {
  const it = src[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  while (have < n) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    have += r.value.length;
  }
  const first = new Uint8Array(have);
  let o = 0;
  for (const h of head) first.set(h, o), o += h.length;
  const all = (async function* () {
    let done = false;
    try {
      if (first.length) yield first;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  })();
  return { head: first, all };
}

/**
 * Stores one layer. `source` is a tar (plain, gzip or zstd) as a path or a byte stream.
 * Throws InvalidDataError for a non-tar, a corrupt archive, an unsafe entry or a digest
 * mismatch, and then leaves the store as it was.
 */
export async function storeLayerFromTar(
  root: string,
  source: ByteSource,
  expect: LayerExpectations = {},
  opts: StoreOptions = {},
): Promise<StoredLayer> {
  const paths = storePaths(root);
  await fs.mkdir(paths.tmp, { recursive: true });
  const stage = await fs.mkdtemp(`${paths.tmp}/layer-`);
  // From a file the blob is only hashed on the way and copied (by the kernel) or moved
  // into place once verified; from a stream it is written as it comes.
  const fromFile = typeof source === "string" && !opts.compress ? source : null;
  const blob = fromFile ? null : await BlobWriter.create(root, `${stage}/blob`);
  const rawHash = fromFile ? createHash("sha256") : null;
  let rawSize = 0;
  const raw = typeof source === "string" ? readFileChunks(source) : toBytes(source);
  try {
    const { head, all } = await peek(raw, 4);
    const given = detectCompression(head);
    const gzip = opts.compress === "gzip" && given === "none"
      ? new GzipSink((c) => blob!.write(c))
      : null;
    const compression = gzip ? "gzip" : given;
    const diffHash = createHash("sha256");
    const teeRaw = async function* () {
      try {
        for await (const c of all) {
          if (rawHash) rawHash.update(c), rawSize += c.length;
          else await (gzip ?? blob!).write(c);
          yield c;
        }
        await gzip?.end();
      } finally {
        gzip?.destroy();
      }
    };
    const teeTar = async function* () {
      for await (const c of decompress(given, teeRaw())) {
        diffHash.update(c);
        yield c;
      }
    };
    // A layer already unpacked under the expected diff_id (pull, load) is only hashed to
    // verify it, not unpacked again.
    const known = expect.diffId !== undefined &&
      await fs.lstat(paths.layerJson(expect.diffId)).then(() => true, () => false);
    let size = 0;
    if (known) {
      for await (const _ of teeTar());
    } else {
      const diff = `${stage}/layer/diff`;
      await fs.mkdir(diff, { recursive: true, mode: 0o755 });
      size = (await unpackEntries(readTar(teeTar()), diff)).size;
    }
    let digest: string;
    if (rawHash) {
      digest = hexDigest(rawHash.digest("hex"));
      if (expect.digest && expect.digest !== digest) {
        throw new InvalidDataError(
          `blob digest mismatch: expected ${expect.digest}, got ${digest}`,
        );
      }
    } else digest = await blob!.finish(expect.digest);
    const diffId = hexDigest(diffHash.digest("hex"));
    if (expect.diffId && expect.diffId !== diffId) {
      throw new InvalidDataError(
        `layer diff_id mismatch: expected ${expect.diffId}, got ${diffId}`,
      );
    }
    const mediaType = layerMediaType(compression);
    const record: LayerRecord = { diffId, digest, size, mediaType };
    if (!known) {
      await fs.writeFile(`${stage}/layer/layer.json`, JSON.stringify(record, null, 2) + "\n");
    }
    if (fromFile) {
      if (opts.adopt) await fs.rename(fromFile, `${stage}/blob`);
      else await fs.copyFile(fromFile, `${stage}/blob`);
    }
    await withStoreLock(root, async () => {
      const exists = await fs.lstat(paths.layer(diffId)).then(() => true, () => false);
      if (!exists && known) {
        throw new ConflictError(`layer ${diffId} was removed while being stored`);
      }
      if (blob) await blob.commit();
      else {
        await fs.mkdir(paths.blobs, { recursive: true });
        await fs.rename(`${stage}/blob`, paths.blob(digest));
      }
      await fs.mkdir(paths.layers, { recursive: true });
      if (!exists) await fs.rename(`${stage}/layer`, paths.layer(diffId));
    });
    const stored = JSON.parse(await fs.readFile(paths.layerJson(diffId), "utf8")) as LayerRecord;
    return { ...record, size: stored.size, blobSize: blob?.size ?? rawSize, compression };
  } catch (e) {
    await raw.return(undefined).catch(() => {}); // close the source file on every error path
    await blob?.abort();
    throw e;
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}
