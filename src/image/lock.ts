/**
 * A store-wide lock for read-modify-write of repositories.json / images.json and for
 * deleting layers, so concurrent hako processes never lose an update. flock(2) on
 * `<root>/lock`: the kernel drops it when the holder dies, so a crash never leaves the
 * store locked. The lock file itself stays (unlinking a flock file races other openers).
 */

import * as fs from "node:fs/promises";
import { withFileLock } from "../../ffi/lock.ts";
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
  await fs.mkdir(root, { recursive: true });
  return await withFileLock(storePaths(root).lock, fn, {
    mode: 0o644,
    timeoutMs,
    onTimeout: () => new ConflictError(`image store ${root} is locked by another hako process`),
  });
}
