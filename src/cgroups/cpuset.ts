/**
 * cpuset controller: pin a container to CPUs and memory nodes.
 *
 * v1 quirk: a new cpuset cgroup starts with empty cpuset.cpus/cpuset.mems (unless the parent
 * has cgroup.clone_children=1), and joining an empty cpuset fails with ENOSPC. So every level
 * hako creates copies its parent's values first (runc does the same, libcontainer/cgroups/fs/cpuset.go).
 */

import type { Limits } from "./limits.ts";
import { readValue, writeValue } from "./files.ts";

/** Parses a kernel CPU/node list ("0-3,5") into its members; null when malformed. */
export function parseCpuList(list: string): number[] | null {
  const out = new Set<number>();
  if (list.trim() === "") return [];
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) return null;
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** Formats members as a kernel list ("0-3,5"). */
export function formatCpuList(ids: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(j === i ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j;
  }
  return parts.join(",");
}

/** v1: fills an empty cpuset.cpus/cpuset.mems in `dir` from `parent`. */
export async function inheritV1(parent: string, dir: string): Promise<void> {
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    const own = await readValue(dir, file);
    if (own) continue;
    const from = await readValue(parent, file);
    if (from) await writeValue(dir, file, from);
  }
}

/** v1: writes --cpuset-cpus/--cpuset-mems. */
export async function applyV1(dir: string, limits: Limits): Promise<void> {
  if (limits.cpusetCpus !== undefined) await writeValue(dir, "cpuset.cpus", limits.cpusetCpus);
  if (limits.cpusetMems !== undefined) await writeValue(dir, "cpuset.mems", limits.cpusetMems);
}

/** v2: same files; an empty v2 cpuset simply inherits the parent's effective set. */
export const applyV2 = applyV1;
