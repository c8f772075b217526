/**
 * A store-wide lock for read-modify-write of repositories.json / images.json and for
 * deleting layers, so concurrent hako processes never lose an update. An O_EXCL lock file
 * holding the owner's pid; a lock whose owner is dead is taken over.
 */

import * as fs from "node:fs/promises";
import process from "node:process";
import { ConflictError } from "../errors.ts";
import { storePaths } from "./store.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Runs `fn` holding the store lock; waits up to `timeoutMs` for another holder. */
export async function withStoreLock<T>(
  root: string,
  fn: () => Promise<T>,
  timeoutMs = 30_000,
): Promise<T> {
  const lock = storePaths(root).lock;
  await fs.mkdir(root, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await fs.open(lock, "wx", 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
    }
    const owner = parseInt(await fs.readFile(lock, "utf8").catch(() => ""), 10);
    if (owner > 0 && !alive(owner)) {
      // Take over a dead owner's lock: rename is atomic, so only one waiter wins it.
      const stale = `${lock}.stale-${process.pid}`;
      await fs.rename(lock, stale).then(() => fs.rm(stale, { force: true }), () => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new ConflictError(`image store ${root} is locked by process ${owner || "?"}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}
