/**
 * <sys/xattr.h> reads: listing and getting extended attributes without following a final
 * symlink, for packing layers (security.capability, user.*, overlay's trusted.* markers).
 *
 * @module
 */

import { check, E } from "./errno.ts";
import { addr, cstr, SYS, sys } from "./sys.ts";

// A file system without xattr support, or a name that is not set, reads as "none".
const NONE = new Set([-E.EOPNOTSUPP, -E.ENODATA].map(BigInt));

/** Calls `op(buf)` with a growing buffer until the value fits (ERANGE means "too small"). */
function sized(what: string, op: (buf: Uint8Array) => bigint): Uint8Array | null {
  let size = 256;
  for (let tries = 0; tries < 8; tries++) {
    const buf = new Uint8Array(size);
    const r = op(buf);
    if (NONE.has(r)) return null;
    if (r === BigInt(-E.ERANGE)) {
      // Ask for the current size (it may change between calls; hence the loop).
      size = Math.max(size * 2, Number(check(op(new Uint8Array(0)), what)));
      continue;
    }
    return buf.slice(0, Number(check(r, what)));
  }
  throw new Error(`${what}: value keeps growing`);
}

/** Names of the extended attributes of `path` (a symlink itself, not its target). */
export function llistxattr(path: string): string[] {
  const p = cstr(path);
  const what = `list attributes of ${path}`;
  const b = sized(
    what,
    (buf) => sys(SYS.llistxattr, addr(p), buf.length ? addr(buf) : 0, buf.length),
  );
  if (!b || b.length === 0) return [];
  return new TextDecoder().decode(b).split("\0").filter(Boolean);
}

/** The value of extended attribute `name` of `path` (not following a symlink); null if unset. */
export function lgetxattr(path: string, name: string): Uint8Array | null {
  const p = cstr(path), n = cstr(name);
  return sized(
    `read attribute ${name} of ${path}`,
    (buf) => sys(SYS.lgetxattr, addr(p), addr(n), buf.length ? addr(buf) : 0, buf.length),
  );
}
