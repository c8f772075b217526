/**
 * An exclusive flock(2) on a lock file, held while `fn` runs. The kernel drops it when the
 * holder dies, so a crash never leaves anything locked; waiting polls LOCK_NB with short
 * async sleeps, because a blocking flock would stall the event loop.
 *
 * @module
 */

import { SysError } from "./errno.ts";
import { AT_FDCWD, flock, LOCK, O, openat } from "./fcntl.ts";
import { close } from "./unistd.ts";

/** How `withFileLock` opens and waits. */
export interface LockOptions {
  /** Mode of the lock file when it is created (default 0600). */
  mode?: number;
  /** Give up after this many milliseconds (default: wait for ever). */
  timeoutMs?: number;
  /** The error thrown on timeout. */
  onTimeout?: () => Error;
}

/**
 * Runs `fn` holding an exclusive lock on `path` (created if missing).
 *
 * @example
 * ```ts
 * await withFileLock("/run/hako/locks/c0ffee", async () => {
 *   // read-modify-write the record
 * });
 * ```
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const fd = openat(AT_FDCWD, path, O.RDWR | O.CREAT | O.CLOEXEC, opts.mode ?? 0o600);
  try {
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (let delay = 1;; delay = Math.min(delay * 2, 50)) {
      try {
        flock(fd, LOCK.EX | LOCK.NB);
        break;
      } catch (e) {
        if (!(e instanceof SysError) || e.code !== "EAGAIN" && e.code !== "EWOULDBLOCK") throw e;
      }
      if (Date.now() > deadline) {
        throw opts.onTimeout?.() ??
          new Error(`lock ${path}: still held after ${opts.timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
    return await fn();
  } finally {
    close(fd); // releases the lock
  }
}
