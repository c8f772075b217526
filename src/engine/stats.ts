/**
 * Resource use of containers, in the shape of Docker's stats API (`GET /containers/{id}/stats`),
 * so `hako stats`, the API and docker's own CLI compute the same figures from one sample.
 *
 * - CPU: the cgroup's cumulative CPU time (v1 cpuacct.usage, v2 cpu.stat usage_usec) beside the
 *   host's (the "cpu" line of /proc/stat); CPU % is Docker's formula on two samples:
 *   `cpuDelta / systemDelta * onlineCPUs * 100`, so 100% is one CPU busy for the interval.
 * - Memory: the cgroup's usage minus inactive file cache (what Docker shows), against the
 *   cgroup limit, or the host's memory when the container has none.
 * - Network: /proc/<init pid>/net/dev, read through the init process, so it lists the
 *   container's network namespace (loopback left out, as Docker counts only the container's
 *   interfaces; a `--network host` container has none of its own).
 * - Block I/O and pids: the cgroup's counters.
 */

import { readText } from "../../ffi/fs.ts";
import { detectCgroups, openCgroup, type Stats } from "../cgroups/mod.ts";
import type { Paths } from "./paths.ts";
import { type Container, findId, isAlive, loadRecord } from "./record.ts";

/** CPU counters of one sample (Docker's cpu_stats). */
export interface CpuSample {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  /** Host CPU time of all CPUs since boot, nanoseconds (/proc/stat). */
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/** One network interface's counters (Docker's networks.<name>). */
export interface NetSample {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** One stats sample of a container, as Docker's API returns it. */
export interface ContainerStats {
  id: string;
  name: string;
  /** When this sample was taken, and when the previous one was (zero time for none). */
  read: string;
  preread: string;
  pids_stats: { current: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: { major: number; minor: number; op: string; value: number }[];
  };
  cpu_stats: CpuSample;
  precpu_stats: CpuSample;
  memory_stats: {
    usage: number;
    max_usage?: number;
    failcnt?: number;
    limit: number;
    stats: Record<string, number>;
  };
  networks?: Record<string, NetSample>;
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Nanoseconds per USER_HZ tick: /proc/stat counts in 1/100 s on every Linux architecture. */
const NS_PER_TICK = 1e9 / 100;

/** Host CPU time in nanoseconds from /proc/stat's "cpu" line (user..steal), as Docker sums it. */
export function parseProcStat(text: string): number {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return 0;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * NS_PER_TICK;
}

/** Interfaces in a /proc/<pid>/net/dev text, loopback left out. */
export function parseNetDev(text: string): Record<string, NetSample> {
  const out: Record<string, NetSample> = {};
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "lo") continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out[name] = {
      rx_bytes: f[0],
      rx_packets: f[1],
      rx_errors: f[2],
      rx_dropped: f[3],
      tx_bytes: f[8],
      tx_packets: f[9],
      tx_errors: f[10],
      tx_dropped: f[11],
    };
  }
  return out;
}

/** Host facts a sample needs: online CPU count and total memory. */
async function hostFacts(): Promise<{ cpus: number; memTotal: number }> {
  let cpus = 1;
  try {
    const online = (await readText("/sys/devices/system/cpu/online")).trim();
    cpus = online.split(",").reduce((n, part) => {
      const [lo, hi] = part.split("-").map(Number);
      return n + (hi === undefined ? 1 : hi - lo + 1);
    }, 0) || 1;
  } catch { /* keep 1 */ }
  let memTotal = 0;
  try {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(await readText("/proc/meminfo"));
    if (m) memTotal = Number(m[1]) * 1024;
  } catch { /* unknown */ }
  return { cpus, memTotal };
}

function emptyCpu(): CpuSample {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: 0,
    online_cpus: 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/**
 * Takes one sample of a container. `prev` (an earlier sample of the same container) fills
 * precpu_stats, so CPU % can be computed from the pair. A container that is not running
 * gives zeros.
 *
 * @example
 * ```ts
 * const a = await sampleContainer(c);
 * await new Promise((r) => setTimeout(r, 1000));
 * const b = await sampleContainer(c, a);
 * console.log(cpuPercent(b)); // 50.1 for a busy loop under --cpus 0.5
 * ```
 */
export async function sampleContainer(
  c: Container,
  prev?: ContainerStats,
): Promise<ContainerStats> {
  const host = await hostFacts();
  const out: ContainerStats = {
    id: c.Id,
    name: c.Name,
    read: new Date().toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: { current: 0 },
    blkio_stats: { io_service_bytes_recursive: [] },
    cpu_stats: emptyCpu(),
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    memory_stats: { usage: 0, limit: 0, stats: {} },
  };
  if (!c.State.Running || !(await isAlive(c))) return out;
  let s: Stats;
  try {
    s = await (await openCgroup(c.Hako.Cgroup)).stats();
  } catch {
    return out; // the container ended between the check and the read
  }
  const system = parseProcStat(await readText("/proc/stat"));
  const version = (await detectCgroups()).version;
  out.cpu_stats = {
    cpu_usage: {
      total_usage: s.cpu.usageNs,
      usage_in_kernelmode: s.cpu.systemNs,
      usage_in_usermode: s.cpu.userNs,
    },
    system_cpu_usage: system,
    online_cpus: host.cpus,
    throttling_data: {
      periods: s.cpu.periods,
      throttled_periods: s.cpu.throttledPeriods,
      throttled_time: s.cpu.throttledNs,
    },
  };
  const inactive = s.memory.rawUsage - s.memory.usage;
  const limit = s.memory.limit === null || (host.memTotal && s.memory.limit > host.memTotal)
    ? host.memTotal
    : s.memory.limit;
  out.memory_stats = {
    usage: s.memory.rawUsage,
    ...(s.memory.maxUsage !== undefined ? { max_usage: s.memory.maxUsage } : {}),
    failcnt: s.memory.failcnt,
    limit,
    stats: {
      [version === 1 ? "total_inactive_file" : "inactive_file"]: inactive,
      oom_kill: s.memory.oomKills,
    },
  };
  out.pids_stats = {
    current: s.pids.current,
    ...(s.pids.limit !== null ? { limit: s.pids.limit } : {}),
  };
  out.blkio_stats.io_service_bytes_recursive = [
    { major: 0, minor: 0, op: "read", value: s.blkio.readBytes },
    { major: 0, minor: 0, op: "write", value: s.blkio.writeBytes },
  ];
  if (c.HostConfig.NetworkMode !== "host") {
    try {
      out.networks = parseNetDev(await readText(`/proc/${c.State.Pid}/net/dev`));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** Samples the container `ref` (name, id or id prefix). */
export async function containerStats(
  paths: Paths,
  ref: string,
  prev?: ContainerStats,
): Promise<ContainerStats> {
  return await sampleContainer(await loadRecord(paths, await findId(paths, ref)), prev);
}

/** Docker's CPU %: share of one CPU over the interval between precpu_stats and cpu_stats. */
export function cpuPercent(s: ContainerStats): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
  const cpus = s.cpu_stats.online_cpus || 1;
  if (systemDelta <= 0 || cpuDelta <= 0 || s.precpu_stats.system_cpu_usage === 0) return 0;
  return (cpuDelta / systemDelta) * cpus * 100;
}

/** Docker's MEM USAGE: usage minus inactive file cache (v1 total_inactive_file, v2 inactive_file). */
export function memoryUsage(s: ContainerStats): number {
  const m = s.memory_stats;
  const inactive = m.stats.total_inactive_file ?? m.stats.inactive_file ?? 0;
  return inactive < m.usage ? m.usage - inactive : m.usage;
}

/** MEM %: usage over the limit. */
export function memoryPercent(s: ContainerStats): number {
  const limit = s.memory_stats.limit;
  return limit > 0 ? (memoryUsage(s) / limit) * 100 : 0;
}

/** NET I/O: bytes received and sent over every interface. */
export function networkIO(s: ContainerStats): { rx: number; tx: number } {
  let rx = 0, tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return { rx, tx };
}

/** BLOCK I/O: bytes read and written. */
export function blockIO(s: ContainerStats): { read: number; write: number } {
  let read = 0, write = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive) {
    if (e.op.toLowerCase() === "read") read += e.value;
    if (e.op.toLowerCase() === "write") write += e.value;
  }
  return { read, write };
}
