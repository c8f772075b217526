/**
 * Writing blobs: to a temporary file in the store's tmp/, hashed on the way, and renamed
 * into blobs/sha256/<hex> only after the digest is known (and matches when one was
 * expected), so a blob path always holds complete, verified content.
 */

import * as fs from "node:fs/promises";
import { createHash, type Hash } from "node:crypto";
import { InvalidDataError } from "../errors.ts";
import { type Digest, hexDigest } from "./digest.ts";
import { storePaths } from "./store.ts";

/** sha256 of some bytes, as a digest. */
export function sha256(data: Uint8Array | string): Digest {
  return hexDigest(createHash("sha256").update(data).digest("hex"));
}

/** A blob being written: `write` chunks, then `commit` (verify + rename) or `abort`. */
export class BlobWriter {
  #hash: Hash = createHash("sha256");
  #fh: fs.FileHandle | null = null;
  size = 0;
  digest: Digest | null = null;

  private constructor(readonly root: string, readonly tmpPath: string) {}

  /** Opens a new temporary blob file under `<root>/tmp/`. */
  static async create(root: string, tmpPath?: string): Promise<BlobWriter> {
    const p = storePaths(root);
    await fs.mkdir(p.tmp, { recursive: true });
    const path = tmpPath ?? `${p.tmp}/blob-${crypto.randomUUID()}`;
    const w = new BlobWriter(root, path);
    w.#fh = await fs.open(path, "wx", 0o644);
    return w;
  }

  /** Appends a chunk. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#hash.update(chunk);
    this.size += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      off += (await this.#fh!.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  }

  /** Closes the file and computes the digest; checks it against `expected` when given. */
  async finish(expected?: string): Promise<Digest> {
    await this.#fh?.close();
    this.#fh = null;
    this.digest = hexDigest(this.#hash.digest("hex"));
    if (expected && expected !== this.digest) {
      throw new InvalidDataError(`blob digest mismatch: expected ${expected}, got ${this.digest}`);
    }
    return this.digest;
  }

  /** Moves the finished blob into place (replacing an identical one is harmless). */
  async commit(): Promise<Digest> {
    if (!this.digest) await this.finish();
    const p = storePaths(this.root);
    await fs.mkdir(p.blobs, { recursive: true });
    await fs.rename(this.tmpPath, p.blob(this.digest!));
    return this.digest!;
  }

  /** Discards the temporary file. */
  async abort(): Promise<void> {
    await this.#fh?.close().catch(() => {});
    this.#fh = null;
    await fs.rm(this.tmpPath, { force: true });
  }
}

/** Stores a small blob (config, manifest) whole; returns its digest and size. */
export async function putBlob(
  root: string,
  data: Uint8Array | string,
): Promise<{ digest: Digest; size: number }> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const w = await BlobWriter.create(root);
  try {
    await w.write(bytes);
    await w.finish();
    return { digest: await w.commit(), size: bytes.length };
  } catch (e) {
    await w.abort();
    throw e;
  }
}
