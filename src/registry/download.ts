/**
 * Downloading one blob as a stream of chunks that survives a cut connection: when the
 * body breaks off (or ends short), the download asks again with `Range: bytes=<have>-`
 * and carries on from there (a server that ignores Range and answers 200 has the bytes
 * already seen skipped). Every byte is hashed on the way, so the end of the stream is
 * also the digest check; a registry sending more bytes than the manifest says is cut off.
 */

import { createHash, type Hash } from "node:crypto";
import { InvalidDataError } from "../errors.ts";
import type { Descriptor } from "../image/oci.ts";
import type { Repository } from "./client.ts";
import { RegistryProtocolError, RegistryUnavailableError } from "./errors.ts";
import { networkReason } from "./transport.ts";

/** Options for a blob download. */
export interface DownloadOptions {
  /** Breaks in a row (less than 1 MiB apart) resumed before giving up (default 5). */
  maxResumes?: number;
  /** Called with the size of every chunk received. */
  onBytes?: (n: number) => void;
  /** Called when a transfer is resumed, with the offset it resumes from. */
  onResume?: (offset: number) => void;
  /**
   * Hash the bytes and check the digest at the end (default true). A consumer that
   * verifies the digest itself (storeLayerFromTar) turns it off to spare a second sha256.
   */
  verify?: boolean;
}

/** One blob being downloaded. */
export class BlobDownload {
  /** Bytes received so far (the offset the next resume starts at). */
  offset = 0;
  /** How many times the transfer was resumed. */
  resumes = 0;
  #hash: Hash = createHash("sha256");
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #skip = 0;
  #got: string | null = null;
  #aborted = false;
  #failures = 0;
  #lastBreak = 0;

  constructor(
    readonly repo: Repository,
    readonly desc: Descriptor,
    readonly opts: DownloadOptions = {},
  ) {}

  async #open(): Promise<void> {
    const res = await this.repo.getBlob(this.desc.digest, this.offset);
    this.#skip = 0;
    if (this.offset > 0) {
      if (res.status === 200) this.#skip = this.offset;
      else {
        const m = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
        if (res.status !== 206 || !m || Number(m[1]) !== this.offset) {
          await res.body?.cancel().catch(() => {});
          throw new RegistryProtocolError(
            `resume blob ${this.desc.digest} from ${this.repo.label} at byte ${this.offset}: the registry answered ${res.status} with range ${
              m ? m[1] : "none"
            }`,
          );
        }
      }
    }
    if (!res.body) throw new RegistryProtocolError(`blob ${this.desc.digest}: empty response`);
    this.#reader = res.body.getReader();
  }

  async #resume(why: unknown): Promise<void> {
    this.#reader?.cancel().catch(() => {});
    this.#reader = null;
    if (this.#aborted) return;
    const max = this.opts.maxResumes ?? 5;
    // A transfer that keeps making headway (1 MiB since the last break) is not failing.
    if (this.offset - this.#lastBreak >= 1024 * 1024) this.#failures = 0;
    this.#lastBreak = this.offset;
    this.resumes++;
    if (++this.#failures > max) {
      throw new RegistryUnavailableError(
        `download of blob ${this.desc.digest} from ${this.repo.label} broke off ${
          max + 1
        } times, last at byte ${this.offset} of ${this.desc.size}: ${
          why === null ? "the response ended early" : networkReason(why)
        }`,
        { cause: why },
      );
    }
    this.opts.onResume?.(this.offset);
    const base = this.repo.transport.retryBaseMs;
    await new Promise((r) => setTimeout(r, Math.min(base * 2 ** (this.#failures - 1), 10_000)));
  }

  /** The next chunk, or null at the end of the blob. */
  async #next(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#aborted) throw new Error(`download of blob ${this.desc.digest} was cancelled`);
      if (this.offset >= this.desc.size && this.#skip === 0) {
        if (this.#reader) {
          // Anything after the announced size is more than the manifest promised.
          const r = await this.#reader.read().catch(() => ({ done: true, value: undefined }));
          if (!r.done && (r.value?.length ?? 0) > 0) {
            throw new InvalidDataError(
              `blob ${this.desc.digest} from ${this.repo.label} is larger than the ${this.desc.size} bytes its manifest gives`,
            );
          }
          this.#reader = null;
        }
        return null;
      }
      if (!this.#reader) await this.#open();
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await this.#reader!.read();
      } catch (e) {
        await this.#resume(e);
        continue;
      }
      if (r.done) {
        await this.#resume(null);
        continue;
      }
      let c = r.value;
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, c.length);
        this.#skip -= n;
        c = c.subarray(n);
        if (c.length === 0) continue;
      }
      if (this.offset + c.length > this.desc.size) {
        throw new InvalidDataError(
          `blob ${this.desc.digest} from ${this.repo.label} is larger than the ${this.desc.size} bytes its manifest gives`,
        );
      }
      this.offset += c.length;
      if (this.opts.verify !== false) this.#hash.update(c);
      this.opts.onBytes?.(c.length);
      return c;
    }
  }

  /** The blob's bytes; throws InvalidDataError at the end when the digest does not match. */
  async *stream(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const c = await this.#next();
        if (c === null) break;
        yield c;
      }
      if (this.opts.verify !== false) this.#verify();
    } catch (e) {
      this.error = e;
      throw e;
    }
  }

  /**
   * The error the download itself failed with (a consumer such as a decompressor may
   * rethrow it wrapped), or null.
   */
  error: unknown = null;

  #verify(): void {
    const got = this.#got ??= "sha256:" + this.#hash.digest("hex");
    if (got !== this.desc.digest) {
      throw new InvalidDataError(
        `blob ${this.desc.digest} from ${this.repo.label} does not match its digest (got ${got})`,
      );
    }
  }

  /**
   * Reads the (rest of the) blob and throws the digest mismatch if there is one; after a
   * consumer gave up on a corrupt archive, this says whether the bytes were the blob's.
   */
  async checkRest(): Promise<void> {
    if (this.opts.verify === false) throw new Error("checkRest needs a verifying download");
    for (; this.#got === null;) {
      const c = await this.#next();
      if (c === null) break;
    }
    this.#verify();
  }

  /** Stops the download (another layer failed); the stream then throws. */
  abort(): void {
    this.#aborted = true;
    this.close();
  }

  /** Drops the connection if the blob was not read to the end. */
  close(): void {
    this.#reader?.cancel().catch(() => {});
    this.#reader = null;
  }
}
