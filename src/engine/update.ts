/**
 * `docker update`: change a container's resource limits (and restart policy) while it runs or
 * while it is stopped. The new values are merged with the ones it has, validated as one set
 * exactly as `run` validates them, written to the live cgroup when the container runs, and
 * stored in the record, so `inspect` shows them and the next start (a restart policy, `start`)
 * applies them again.
 */

import {
  type LimitFlags,
  type Limits,
  openCgroup,
  parseLimits,
  parseSize,
} from "../cgroups/mod.ts";
import { ConflictError, HakoError, UsageError } from "../errors.ts";
import { restartPolicy } from "./create.ts";
import type { Paths } from "./paths.ts";
import { type Container, findId, isAlive, readRecord, withLock, writeRecord } from "./record.ts";

/** What `update` may change. */
export interface UpdateOptions {
  /** Limit flags as given (`{ memory: "512m", cpus: "1" }`); unset ones keep their value. */
  limits?: LimitFlags;
  /** A new restart policy (`no`, `always`, `unless-stopped`, `on-failure[:N]`). */
  restart?: string;
}

/** The limits as Docker's HostConfig fields (what `inspect` shows). */
export function dockerResources(l: Limits) {
  return {
    Memory: l.memory ?? 0,
    MemorySwap: l.memorySwap ?? 0,
    MemoryReservation: l.memoryReservation ?? 0,
    NanoCpus: l.cpuQuota && l.cpuPeriod && l.cpuQuota > 0
      ? Math.round(l.cpuQuota / l.cpuPeriod * 1e9)
      : 0,
    CpuShares: l.cpuShares ?? 0,
    CpuPeriod: l.cpuPeriod ?? 0,
    CpuQuota: l.cpuQuota ?? 0,
    CpusetCpus: l.cpusetCpus ?? "",
    CpusetMems: l.cpusetMems ?? "",
    PidsLimit: l.pidsLimit ?? null,
    OomKillDisable: l.oomKillDisable ?? false,
    BlkioWeight: l.blkioWeight ?? 0,
  };
}

/** The flags that would give `l` again (numbers in bytes and microseconds). */
function asFlags(l: Limits): LimitFlags {
  return {
    memory: l.memory,
    "memory-swap": l.memorySwap,
    "memory-reservation": l.memoryReservation,
    "cpu-period": l.cpuPeriod,
    "cpu-quota": l.cpuQuota,
    "cpu-shares": l.cpuShares,
    "cpuset-cpus": l.cpusetCpus,
    "cpuset-mems": l.cpusetMems,
    "pids-limit": l.pidsLimit,
    "oom-kill-disable": l.oomKillDisable || undefined,
    "blkio-weight": l.blkioWeight,
  };
}

/**
 * Merges updated flags into a container's limits and validates the whole set.
 *
 * Two merge rules keep one flag from silently undoing another: `--cpus` replaces an earlier
 * `--cpu-period`/`--cpu-quota` (and those replace the quota `--cpus` made); a new `--memory`
 * without `--memory-swap` keeps the container's swap allowance (memory-swap minus memory, or
 * unlimited), where Docker would refuse a limit above the old memory-swap.
 *
 * @example
 * ```ts
 * await mergeLimits({ memory: 256 << 20, memorySwap: 256 << 20 }, { memory: "512m" });
 * // { memory: 536870912, memorySwap: 536870912 }
 * ```
 */
export async function mergeLimits(
  old: Limits,
  flags: LimitFlags,
  host?: Parameters<typeof parseLimits>[1],
): Promise<Limits> {
  const given = Object.fromEntries(
    Object.entries(flags).filter(([, v]) => v !== undefined),
  ) as LimitFlags;
  if ("oom-kill-disable" in given) {
    throw new UsageError("--oom-kill-disable cannot be changed on an existing container");
  }
  const merged: LimitFlags = { ...asFlags(old) };
  if ("cpus" in given) {
    delete merged["cpu-period"];
    delete merged["cpu-quota"];
  }
  if ("memory" in given && !("memory-swap" in given)) {
    const mem = parseSize(String(given.memory));
    delete merged["memory-swap"];
    if (old.memorySwap === -1) merged["memory-swap"] = -1;
    else if (mem !== null && mem > 0 && old.memorySwap !== undefined && old.memory !== undefined) {
      merged["memory-swap"] = mem + Math.max(0, old.memorySwap - old.memory);
    }
  }
  return await parseLimits({ ...merged, ...given }, host);
}

/**
 * Updates a container's limits and restart policy; returns the updated record.
 *
 * @example
 * ```ts
 * await updateContainer(paths, "api", { limits: { memory: "512m", cpus: "1" } });
 * ```
 */
export async function updateContainer(
  paths: Paths,
  ref: string,
  opts: UpdateOptions,
): Promise<Container> {
  const id = await findId(paths, ref);
  const policy = opts.restart !== undefined ? restartPolicy(opts.restart) : undefined;
  return await withLock(paths, id, async () => {
    const c = await readRecord(paths, id);
    if (!c) throw new ConflictError(`update ${ref}: the container was removed`);
    if (policy && policy.Name !== "no" && c.HostConfig.AutoRemove) {
      throw new UsageError(
        `update ${ref}: a restart policy cannot be set on a container started with --rm`,
      );
    }
    const old = c.Hako.Limits ?? {};
    const limits = opts.limits ? await mergeLimits(old, opts.limits) : old;
    if (c.State.Running && (await isAlive(c))) {
      const cg = await openCgroup(c.Hako.Cgroup).catch(() => null);
      if (cg) {
        try {
          await cg.apply(limits);
        } catch (e) {
          // Leave the running container with the limits its record states.
          await cg.apply(old).catch(() => {});
          throw new HakoError(`update ${ref}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    c.Hako.Limits = limits;
    Object.assign(c.HostConfig, dockerResources(limits));
    if (policy) c.HostConfig.RestartPolicy = policy;
    await writeRecord(paths, c);
    return c;
  });
}
