/**
 * cpu and cpuacct controllers: CFS quota/period (--cpus, --cpu-quota, --cpu-period), weight
 * (--cpu-shares) and usage.
 */

import type { Limits } from "./limits.ts";
import { parseKeyed, readInt, readValue, writeValue } from "./files.ts";

/** CPU time used by the container, nanoseconds. */
export interface CpuStats {
  usageNs: number;
  userNs: number;
  systemNs: number;
  /** CFS periods elapsed and periods in which the container was throttled. */
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
}

/** cgroup v2 cpu.weight for v1 cpu.shares (the OCI/runc conversion, 2..262144 → 1..10000). */
export function sharesToWeight(shares: number): number {
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** v1 (cpu hierarchy): cpu.cfs_period_us, cpu.cfs_quota_us, cpu.shares. */
export async function applyV1(dir: string, limits: Limits): Promise<void> {
  if (limits.cpuPeriod !== undefined) await writeValue(dir, "cpu.cfs_period_us", limits.cpuPeriod);
  if (limits.cpuQuota !== undefined) await writeValue(dir, "cpu.cfs_quota_us", limits.cpuQuota);
  if (limits.cpuShares !== undefined) await writeValue(dir, "cpu.shares", limits.cpuShares);
}

/** v2: cpu.max "<quota|max> <period>", cpu.weight. */
export async function applyV2(dir: string, limits: Limits): Promise<void> {
  const { cpuQuota: quota, cpuPeriod: period } = limits;
  if (quota !== undefined || period !== undefined) {
    const q = quota === undefined ? undefined : quota < 0 ? "max" : String(quota);
    // One number updates only the quota; "max <period>" keeps the limit off but sets the period.
    const value = period === undefined ? q : `${q ?? "max"} ${period}`;
    await writeValue(dir, "cpu.max", value!);
  }
  if (limits.cpuShares !== undefined) {
    await writeValue(dir, "cpu.weight", sharesToWeight(limits.cpuShares));
  }
}

/** v1: usage from the cpuacct hierarchy, throttling from the cpu hierarchy. */
export async function statsV1(cpuDir: string | undefined, acctDir: string | undefined) {
  const out: CpuStats = {
    usageNs: 0,
    userNs: 0,
    systemNs: 0,
    periods: 0,
    throttledPeriods: 0,
    throttledNs: 0,
  };
  if (acctDir) {
    out.usageNs = (await readInt(acctDir, "cpuacct.usage")) ?? 0;
    out.userNs = (await readInt(acctDir, "cpuacct.usage_user")) ?? 0;
    out.systemNs = (await readInt(acctDir, "cpuacct.usage_sys")) ?? 0;
  }
  if (cpuDir) {
    const s = parseKeyed(await readValue(cpuDir, "cpu.stat"));
    out.periods = s.get("nr_periods") ?? 0;
    out.throttledPeriods = s.get("nr_throttled") ?? 0;
    out.throttledNs = s.get("throttled_time") ?? 0;
  }
  return out;
}

/** v2: cpu.stat (microseconds) converted to nanoseconds. */
export async function statsV2(dir: string): Promise<CpuStats> {
  const s = parseKeyed(await readValue(dir, "cpu.stat"));
  const us = (k: string) => (s.get(k) ?? 0) * 1000;
  return {
    usageNs: us("usage_usec"),
    userNs: us("user_usec"),
    systemNs: us("system_usec"),
    periods: s.get("nr_periods") ?? 0,
    throttledPeriods: s.get("nr_throttled") ?? 0,
    throttledNs: us("throttled_usec"),
  };
}
