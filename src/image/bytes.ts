/**
 * A pull-based byte reader over an async stream of chunks, so the tar parser can ask for
 * "exactly 512 bytes" or "the next n bytes, chunk by chunk" without copying whole files.
 */

/** Reads exact byte counts from an async iterable of chunks. */
export class ByteReader {
  #it: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #done = false;

  #short: () => Error;

  /** `short` makes the error thrown when the stream ends before a requested count. */
  constructor(src: AsyncIterable<Uint8Array>, short = () => new Error("unexpected end of stream")) {
    this.#it = src[Symbol.asyncIterator]();
    this.#short = short;
  }

  async #fill(): Promise<boolean> {
    while (!this.#done) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        return false;
      }
      if (r.value.length === 0) continue;
      this.#buf = this.#buf.length === 0 ? r.value : concat(this.#buf, r.value);
      return true;
    }
    return false;
  }

  /** Reads exactly `n` bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n && await this.#fill());
    const out = this.#buf.subarray(0, Math.min(n, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Yields the next `n` bytes as they arrive; throws when the stream ends first. */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    while (n > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) {
        throw this.#short();
      }
      const take = Math.min(n, this.#buf.length);
      const out = this.#buf.subarray(0, take);
      this.#buf = this.#buf.subarray(take);
      n -= take;
      yield out;
    }
  }

  /** Discards the next `n` bytes; throws when the stream ends first. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }

  /** Reads the rest of the stream and discards it (so hashes see every byte). */
  async drain(): Promise<void> {
    this.#buf = new Uint8Array(0);
    while (await this.#fill()) this.#buf = new Uint8Array(0);
  }

  /** Stops the underlying iterator early (on error). */
  async cancel(): Promise<void> {
    await this.#it.return?.();
  }
}

/** Concatenates two byte arrays. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
