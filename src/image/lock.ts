/**
 * A store-wide lock for read-modify-write of repositories.json / images.json and for
 * deleting layers, so concurrent hako processes never lose an update. flock(2) on
 * `<root>/lock`: the kernel drops it when the holder dies, so a crash never leaves the
 * store locked. The lock file itself stays (unlinking a flock file races other openers).
 */

import * as fs from "node:fs/promises";
import { AT_FDCWD, close, flock, LOCK, O, openat, SysError } from "../../ffi/mod.ts";
import { ConflictError } from "../errors.ts";
import { storePaths } from "./store.ts";

/**
 * Runs `fn` holding the store lock; waits up to `timeoutMs` for another holder. Polls with
 * LOCK_NB because a blocking flock would stall the event loop.
 */
export async function withStoreLock<T>(
  root: string,
  fn: () => Promise<T>,
  timeoutMs = 30_000,
): Promise<T> {
  const path = storePaths(root).lock;
  await fs.mkdir(root, { recursive: true });
  const fd = openat(AT_FDCWD, path, O.RDWR | O.CREAT | O.CLOEXEC, 0o644);
  try {
    const deadline = Date.now() + timeoutMs;
    let delay = 1;
    for (;;) {
      try {
        flock(fd, LOCK.EX | LOCK.NB);
        break;
      } catch (e) {
        if (!(e instanceof SysError) || e.code !== "EAGAIN" && e.code !== "EWOULDBLOCK") throw e;
      }
      if (Date.now() > deadline) {
        throw new ConflictError(`image store ${root} is locked by another hako process`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
    return await fn();
  } finally {
    close(fd); // releases the lock
  }
}
