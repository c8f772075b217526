/**
 * The one errno choke point: raw syscall results (negative = -errno) become typed errors
 * that say what was being done and why.
 *
 * @module
 */

import { E, ERRNO_TEXT } from "./errno_table.ts";

export { E };

/** The errno name for a number, e.g. `errnoName(1) === "EPERM"`; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_TEXT[errno]?.[0] ?? `E${errno}`;
}

/** glibc's strerror text for an errno, e.g. "Operation not permitted". */
export function errnoMessage(errno: number): string {
  return ERRNO_TEXT[errno]?.[1] ?? `Unknown error ${errno}`;
}

/**
 * A failed system call: `what` names the operation, `code` the errno.
 *
 * @example
 * ```ts
 * const e = new SysError(1, "mount proc on /proc");
 * e.message; // "mount proc on /proc: EPERM (Operation not permitted)"
 * ```
 */
export class SysError extends Error {
  /** The errno number, e.g. 1. */
  readonly errno: number;
  /** The errno name, e.g. "EPERM". */
  readonly code: string;
  /** What was being done, e.g. "mount proc on /proc". */
  readonly what: string;

  constructor(errno: number, what: string) {
    super(`${what}: ${errnoName(errno)} (${errnoMessage(errno)})`);
    this.name = "SysError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.what = what;
  }
}

/** Returns a raw syscall result, or throws a SysError naming `what` when it is -errno. */
export function check(res: bigint, what: string): bigint {
  if (res < 0n && res > -4096n) throw new SysError(Number(-res), what);
  return res;
}
