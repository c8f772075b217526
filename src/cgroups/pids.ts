/** pids controller: --pids-limit and the current task count (same files on v1 and v2). */

import type { Limits } from "./limits.ts";
import { readInt, writeValue } from "./files.ts";

/** Task count and limit (null = unlimited). */
export interface PidsStats {
  current: number;
  limit: number | null;
}

/** Writes pids.max ("max" for unlimited). */
export async function apply(dir: string, limits: Limits): Promise<void> {
  if (limits.pidsLimit === undefined) return;
  await writeValue(dir, "pids.max", limits.pidsLimit < 0 ? "max" : limits.pidsLimit);
}

/** Reads pids.current and pids.max. */
export async function stats(dir: string): Promise<PidsStats> {
  return {
    current: (await readInt(dir, "pids.current")) ?? 0,
    limit: (await readInt(dir, "pids.max")) ?? null,
  };
}
