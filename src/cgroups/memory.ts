/**
 * memory controller: --memory, --memory-swap, --memory-reservation, --oom-kill-disable, and
 * the usage/OOM numbers `docker stats` and `docker inspect` (State.OOMKilled) report.
 */

import { UsageError } from "../errors.ts";
import type { Limits } from "./limits.ts";
import { parseKeyed, readInt, readValue, writeValue } from "./files.ts";

/** Memory use of the container. */
export interface MemoryStats {
  /** Docker's MEM USAGE: usage minus inactive file cache (reclaimable without pressure). */
  usage: number;
  /** What the kernel charges (v1 memory.usage_in_bytes, v2 memory.current). */
  rawUsage: number;
  /** Peak usage, when the kernel reports it. */
  maxUsage?: number;
  /** Hard limit in bytes; null when unlimited. */
  limit: number | null;
  /** Times the limit was hit (v1 memory.failcnt, v2 memory.events "max"). */
  failcnt: number;
  /** Processes the OOM killer killed in this cgroup (v1 oom_control, v2 memory.events). */
  oomKills: number;
  /** v1: the cgroup is under OOM right now (only with --oom-kill-disable). */
  underOom?: boolean;
}

/** v1: memory.limit_in_bytes, memory.memsw.limit_in_bytes, soft limit, oom_control. */
export async function applyV1(dir: string, limits: Limits): Promise<void> {
  const { memory, memorySwap } = limits;
  // memsw must stay >= limit at every moment: raise memsw first when the new limit would
  // exceed the current memsw, else set the limit first (runc's fs/memory.go does the same).
  // Without swap accounting (swapaccount=0) memsw files are absent and swap is not limited.
  const memsw = await readValue(dir, "memory.memsw.limit_in_bytes");
  const swap = memorySwap === undefined ? undefined : memorySwap;
  if (memsw !== null && swap !== undefined) {
    const current = Number(memsw);
    if (memory !== undefined && (swap === -1 || swap > current)) {
      await writeValue(dir, "memory.memsw.limit_in_bytes", swap);
      await writeValue(dir, "memory.limit_in_bytes", memory);
    } else {
      if (memory !== undefined) await writeValue(dir, "memory.limit_in_bytes", memory);
      await writeValue(dir, "memory.memsw.limit_in_bytes", swap);
    }
  } else if (memory !== undefined) {
    await writeValue(dir, "memory.limit_in_bytes", memory);
  }
  if (limits.memoryReservation !== undefined) {
    await writeValue(dir, "memory.soft_limit_in_bytes", limits.memoryReservation);
  }
  if (limits.oomKillDisable) await writeValue(dir, "memory.oom_control", 1);
}

/** v2: memory.max, memory.swap.max (swap alone, not memory+swap), memory.low. */
export async function applyV2(dir: string, limits: Limits): Promise<void> {
  if (limits.oomKillDisable) {
    throw new UsageError("--oom-kill-disable is not supported on cgroup v2");
  }
  if (limits.memory !== undefined) await writeValue(dir, "memory.max", limits.memory);
  const { memory, memorySwap } = limits;
  if (memorySwap !== undefined && (await readValue(dir, "memory.swap.max")) !== null) {
    const swap = memorySwap === -1 ? "max" : Math.max(0, memorySwap - (memory ?? 0));
    await writeValue(dir, "memory.swap.max", swap);
  }
  if (limits.memoryReservation !== undefined) {
    await writeValue(dir, "memory.low", limits.memoryReservation);
  }
}

/** v1 numbers; usage minus total_inactive_file as docker's CLI computes it. */
export async function statsV1(dir: string): Promise<MemoryStats> {
  const raw = (await readInt(dir, "memory.usage_in_bytes")) ?? 0;
  const stat = parseKeyed(await readValue(dir, "memory.stat"));
  const oom = parseKeyed(await readValue(dir, "memory.oom_control"));
  const inactive = stat.get("total_inactive_file") ?? 0;
  return {
    usage: inactive < raw ? raw - inactive : raw,
    rawUsage: raw,
    maxUsage: (await readInt(dir, "memory.max_usage_in_bytes")) ?? undefined,
    limit: (await readInt(dir, "memory.limit_in_bytes")) ?? null,
    failcnt: (await readInt(dir, "memory.failcnt")) ?? 0,
    oomKills: oom.get("oom_kill") ?? 0,
    underOom: oom.get("under_oom") === 1,
  };
}

/** v2 numbers; memory.current minus inactive_file. */
export async function statsV2(dir: string): Promise<MemoryStats> {
  const raw = (await readInt(dir, "memory.current")) ?? 0;
  const stat = parseKeyed(await readValue(dir, "memory.stat"));
  const events = parseKeyed(await readValue(dir, "memory.events"));
  const inactive = stat.get("inactive_file") ?? 0;
  return {
    usage: inactive < raw ? raw - inactive : raw,
    rawUsage: raw,
    maxUsage: (await readInt(dir, "memory.peak")) ?? undefined,
    limit: (await readInt(dir, "memory.max")) ?? null,
    failcnt: events.get("max") ?? 0,
    oomKills: events.get("oom_kill") ?? 0,
  };
}
