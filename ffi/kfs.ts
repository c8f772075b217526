/**
 * Synchronous I/O on kernel pseudo-files (cgroupfs, procfs): each call is a handful of raw
 * syscalls that the kernel answers from memory in microseconds, where a runtime's async
 * file API costs a thread-pool round trip (~0.1–0.5 ms) per call. Errors are SysErrors
 * naming the file and the errno.
 */

import { check, E } from "./errno.ts";
import { SysError } from "./errno.ts";
import { SYS, sys } from "./sys.ts";
import { cstr } from "./sys.ts";
import { addr } from "./sys.ts";

const AT_FDCWD = -100, AT_REMOVEDIR = 0x200;
const O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0o100, O_TRUNC = 0o1000, O_CLOEXEC = 0o2000000;
const enc = new TextEncoder(), dec = new TextDecoder();

/**
 * Writes `value` to `path` in one write(2) (cgroupfs takes one value per write). O_CREAT and
 * O_TRUNC are harmless on cgroupfs (runc opens the same way) and let tests use a plain tree.
 */
export function writeSmall(path: string, value: string): void {
  const p = cstr(path);
  const fd = Number(
    check(
      sys(SYS.openat, AT_FDCWD, addr(p), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644),
      `open ${path}`,
    ),
  );
  try {
    const b = enc.encode(value);
    check(sys(SYS.write, fd, addr(b), b.length), `write "${value}" to ${path}`);
  } finally {
    sys(SYS.close, fd);
  }
}

/** Reads a whole small file; null when it does not exist (ENOENT/ENODEV). */
export function readSmall(path: string): string | null {
  const p = cstr(path);
  const r = sys(SYS.openat, AT_FDCWD, addr(p), O_RDONLY | O_CLOEXEC, 0);
  if (r === BigInt(-E.ENOENT) || r === BigInt(-E.ENODEV)) return null;
  const fd = Number(check(r, `open ${path}`));
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = Number(check(sys(SYS.read, fd, addr(buf), buf.length), `read ${path}`));
      if (n === 0) break;
      chunks.push(buf.slice(0, n));
    }
    if (chunks.length === 1) return dec.decode(chunks[0]);
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of chunks) all.set(c, o), o += c.length;
    return dec.decode(all);
  } finally {
    sys(SYS.close, fd);
  }
}

/** mkdir(2); an existing directory is fine. */
export function mkdirSmall(path: string, mode = 0o755): void {
  const p = cstr(path);
  const r = sys(SYS.mkdirat, AT_FDCWD, addr(p), mode);
  if (r !== BigInt(-E.EEXIST)) check(r, `mkdir ${path}`);
}

/** rmdir(2); a missing directory is fine. Throws SysError (e.g. EBUSY) otherwise. */
export function rmdirSmall(path: string): void {
  const p = cstr(path);
  const r = sys(SYS.unlinkat, AT_FDCWD, addr(p), AT_REMOVEDIR);
  if (r !== BigInt(-E.ENOENT)) check(r, `rmdir ${path}`);
}

export { SysError };

/** What `lstatSync` reports (statx fields, the same layout on every architecture). */
export interface StatSmall {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  rdevMajor: number;
  rdevMinor: number;
}

const AT_SYMLINK_NOFOLLOW = 0x100, AT_STATX_SYNC_AS_STAT = 0;
const STATX_BASIC_STATS = 0x7ff;
const statxBuf = new Uint8Array(256);
const statxView = new DataView(statxBuf.buffer);

/**
 * lstat through statx(2), synchronously; null when the path does not exist. A dentry-cache
 * lookup takes microseconds, where an async stat is a thread-pool round trip: the path
 * resolution done before every container start uses this.
 */
export function lstatSync(path: string, follow = false): StatSmall | null {
  const p = cstr(path);
  const flags = (follow ? 0 : AT_SYMLINK_NOFOLLOW) | AT_STATX_SYNC_AS_STAT;
  const r = sys(SYS.statx, AT_FDCWD, addr(p), flags, STATX_BASIC_STATS, addr(statxBuf));
  if (r === BigInt(-E.ENOENT) || r === BigInt(-E.ENOTDIR)) return null;
  check(r, `stat ${path}`);
  return {
    mode: statxView.getUint16(28, true),
    uid: statxView.getUint32(20, true),
    gid: statxView.getUint32(24, true),
    size: Number(statxView.getBigUint64(40, true)),
    rdevMajor: statxView.getUint32(128, true),
    rdevMinor: statxView.getUint32(132, true),
  };
}
