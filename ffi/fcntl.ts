/**
 * <fcntl.h>, <sys/stat.h>, <sys/file.h>, <sys/ioctl.h>, <sys/xattr.h>: file descriptors
 * and nodes, always in their *at forms (aarch64 has no legacy open/mknod).
 *
 * @module
 */

import { check } from "./errno.ts";
import { addr, cstr, SYS, sys } from "./sys.ts";

/** The "current directory" dirfd of the *at calls. */
export const AT_FDCWD = -100;
/** *at flag: do not follow a final symlink. */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** openat flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;
/** File type bits of a mode. */
export const S_IF = {
  IFIFO: 0o10000,
  IFCHR: 0o20000,
  IFDIR: 0o40000,
  IFBLK: 0o60000,
  IFREG: 0o100000,
} as const;
/** flock operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** Opens `path` relative to `dirfd`; returns the fd. */
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return Number(check(sys(SYS.openat, dirfd, addr(cstr(path)), flags, mode), `open ${path}`));
}

/** Creates a device node, FIFO or file; `dev` from `makedev`. */
export function mknod(path: string, mode: number, dev: number | bigint = 0): void {
  check(sys(SYS.mknodat, AT_FDCWD, addr(cstr(path)), mode, dev), `create node ${path}`);
}

/** Linux's dev_t encoding of major:minor. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** Creates a directory. */
export function mkdirat(dirfd: number, path: string, mode = 0o755): void {
  check(sys(SYS.mkdirat, dirfd, addr(cstr(path)), mode), `create directory ${path}`);
}

/** Takes or releases an advisory lock on an open file. */
export function flock(fd: number, op: number): void {
  check(sys(SYS.flock, fd, op), `lock fd ${fd}`);
}

/** ioctl with an integer or pointer argument; returns the result. */
export function ioctl(fd: number, request: number | bigint, arg: number | bigint = 0): bigint {
  return check(sys(SYS.ioctl, fd, request, arg), `ioctl ${request} on fd ${fd}`);
}

/** Sets an extended attribute on a path without following a final symlink. */
export function lsetxattr(path: string, name: string, value: Uint8Array | string, flags = 0): void {
  const v = typeof value === "string" ? new TextEncoder().encode(value) : value;
  check(
    sys(SYS.lsetxattr, addr(cstr(path)), addr(cstr(name)), addr(v), v.length, flags),
    `set attribute ${name} on ${path}`,
  );
}
