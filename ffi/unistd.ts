/**
 * <unistd.h>-like wrappers: file descriptors, pipes, process identity.
 *
 * @module
 */

import { check, E } from "./errno.ts";
import { addr, cstr, SYS, sys } from "./sys.ts";
import { syscallAsync } from "./trampoline.ts";

/** pipe2/openat flag: close on execve. */
export const O_CLOEXEC = 0o2000000;
/** pipe2/openat flag: non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** close_range flag: mark close-on-exec instead of closing. */
export const CLOSE_RANGE_CLOEXEC = 4;

/** Closes a file descriptor. */
export function close(fd: number): void {
  check(sys(SYS.close, fd), `close fd ${fd}`);
}

/** Reads up to `buf.length` bytes (blocks the calling thread); returns the count. */
export function read(fd: number, buf: Uint8Array): number {
  return Number(check(sys(SYS.read, fd, addr(buf), buf.length), `read fd ${fd}`));
}

/** Writes bytes (a string is UTF-8 encoded); returns the count written. */
export function write(fd: number, data: Uint8Array | string): number {
  const buf = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return Number(check(sys(SYS.write, fd, addr(buf), buf.length), `write fd ${fd}`));
}

/** Reads from a pipe or other fd off the JavaScript thread; 0 = end of file. */
export async function readAsync(fd: number, buf: Uint8Array): Promise<number> {
  for (;;) {
    const r = await syscallAsync(SYS.read, fd, addr(buf), buf.length);
    if (r === BigInt(-E.EINTR)) continue;
    return Number(check(r, `read fd ${fd}`));
  }
}

/** Creates a pipe; returns [read end, write end]. */
export function pipe2(flags = O_CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  check(sys(SYS.pipe2, addr(fds), flags), "create a pipe");
  return [fds[0], fds[1]];
}

/** Duplicates `fd` onto `to` (aarch64 has no dup2). */
export function dup3(fd: number, to: number, flags = 0): number {
  return Number(check(sys(SYS.dup3, fd, to, flags), `duplicate fd ${fd} onto ${to}`));
}

/** Changes the working directory. */
export function chdir(path: string): void {
  check(sys(SYS.chdir, addr(cstr(path))), `change directory to ${path}`);
}

/** Sets the hostname of the current UTS namespace. */
export function sethostname(name: string): void {
  const b = new TextEncoder().encode(name);
  check(sys(SYS.sethostname, addr(b), b.length), `set hostname ${name}`);
}

/** The calling process id. */
export function getpid(): number {
  return Number(sys(SYS.getpid));
}
