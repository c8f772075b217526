/**
 * Synchronous file calls in their *at forms, for the layer unpacker: each is one raw
 * system call of a few microseconds, where the runtimes' async file APIs cost a thread-pool
 * round trip each (about 0.1–0.5 ms). Unpacking a Debian root (~7000 entries, ~8 calls
 * each) is dominated by that difference. Errors are SysErrors naming the path.
 *
 * @module
 */

import { check } from "./errno.ts";
import { addr, cstr, SYS, sys } from "./sys.ts";

const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;

/** Writes all of `buf` to `fd` (retrying short writes). */
export function writeAll(fd: number, buf: Uint8Array, what: string): void {
  let off = 0;
  while (off < buf.length) {
    const view = off === 0 ? buf : buf.subarray(off);
    off += Number(check(sys(SYS.write, fd, addr(view), view.length), `write ${what}`));
  }
}

/** symlink(2): creates `path` pointing at `target`. */
export function symlinkAt(target: string, path: string): void {
  check(
    sys(SYS.symlinkat, addr(cstr(target)), AT_FDCWD, addr(cstr(path))),
    `create symlink ${path}`,
  );
}

/** link(2): a hard link `path` to `existing`. */
export function linkAt(existing: string, path: string): void {
  check(
    sys(SYS.linkat, AT_FDCWD, addr(cstr(existing)), AT_FDCWD, addr(cstr(path)), 0),
    `create hard link ${path}`,
  );
}

/** unlink(2), or rmdir(2) with `dir`. */
export function unlinkAt(path: string, dir = false): void {
  check(sys(SYS.unlinkat, AT_FDCWD, addr(cstr(path)), dir ? 0x200 : 0), `remove ${path}`);
}

/** lchown(2): owner of a path, not following a final symlink. */
export function lchownAt(path: string, uid: number, gid: number): void {
  check(
    sys(SYS.fchownat, AT_FDCWD, addr(cstr(path)), uid, gid, AT_SYMLINK_NOFOLLOW),
    `change owner of ${path}`,
  );
}

/** fchown(2). */
export function fchown(fd: number, uid: number, gid: number, what: string): void {
  check(sys(SYS.fchown, fd, uid, gid), `change owner of ${what}`);
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number, what: string): void {
  check(sys(SYS.fchmod, fd, mode), `change mode of ${what}`);
}

/** chmod(2) (follows symlinks; callers never pass one). */
export function chmodAt(path: string, mode: number): void {
  check(sys(SYS.fchmodat, AT_FDCWD, addr(cstr(path)), mode, 0), `change mode of ${path}`);
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: string, value: Uint8Array, what: string): void {
  check(
    sys(SYS.fsetxattr, fd, addr(cstr(name)), value.length ? addr(value) : 0, value.length, 0),
    `set attribute ${name} on ${what}`,
  );
}

const times = new BigInt64Array(4);

function setTimes(seconds: number): void {
  const s = Math.floor(seconds);
  times[0] = times[2] = BigInt(s);
  times[1] = times[3] = BigInt(Math.round((seconds - s) * 1e9));
}

/** Sets atime and mtime of a path, not following a final symlink. */
export function lutimesAt(path: string, seconds: number): void {
  setTimes(seconds);
  check(
    sys(SYS.utimensat, AT_FDCWD, addr(cstr(path)), addr(times), AT_SYMLINK_NOFOLLOW),
    `set times of ${path}`,
  );
}

/** Sets atime and mtime of an open file. */
export function futimes(fd: number, seconds: number, what: string): void {
  setTimes(seconds);
  check(sys(SYS.utimensat, fd, 0, addr(times), 0), `set times of ${what}`);
}
