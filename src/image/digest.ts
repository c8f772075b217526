/**
 * Content digests (`sha256:<64 hex>`), the names of everything in the store.
 *
 * Hashing itself lives with the streams that need it (layer.ts, blob.ts); this file only
 * validates and splits digests, so the hot path can use it without loading node:crypto.
 */

import { InvalidDataError } from "../errors.ts";

/** A digest string, `sha256:` followed by 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** True when `s` is a well-formed sha256 digest. */
export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/**
 * Returns the hex part of a digest, throwing InvalidDataError for anything else, so a
 * crafted digest can never become a path like `../../x` inside the store.
 *
 * @example
 * ```ts
 * digestHex("sha256:" + "0".repeat(64)); // "000…0"
 * ```
 */
export function digestHex(d: string): string {
  if (!isDigest(d)) throw new InvalidDataError(`invalid digest ${JSON.stringify(d)}`);
  return d.slice(7);
}

/** Builds a digest from a hex sha256. */
export function hexDigest(hex: string): Digest {
  return `sha256:${hex}`;
}
