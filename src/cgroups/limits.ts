/**
 * Resource limits with Docker's flags, units and rules, parsed and validated before any
 * cgroup is created, so a bad value never leaves a half-made container behind.
 */

import { UsageError } from "../errors.ts";
import { readText } from "../../ffi/fs.ts";
import { detectCgroups } from "./detect.ts";
import { formatCpuList, parseCpuList } from "./cpuset.ts";

/** Validated limits; every field is optional (unset = leave the kernel default). */
export interface Limits {
  /** Hard memory limit in bytes (--memory). */
  memory?: number;
  /** Memory plus swap in bytes, -1 for unlimited swap (--memory-swap). */
  memorySwap?: number;
  /** Soft limit in bytes (--memory-reservation): v1 soft_limit_in_bytes, v2 memory.low. */
  memoryReservation?: number;
  /** CFS quota in microseconds per period, -1 for none (--cpu-quota, or from --cpus). */
  cpuQuota?: number;
  /** CFS period in microseconds (--cpu-period; 100000 with --cpus). */
  cpuPeriod?: number;
  /** Relative CPU weight, 2..262144 (--cpu-shares); v2 gets the converted cpu.weight. */
  cpuShares?: number;
  /** CPUs the container may run on, kernel list format (--cpuset-cpus). */
  cpusetCpus?: string;
  /** Memory nodes, kernel list format (--cpuset-mems). */
  cpusetMems?: string;
  /** Maximum number of tasks, -1 for unlimited (--pids-limit). */
  pidsLimit?: number;
  /** Disable the OOM killer, cgroup v1 only (--oom-kill-disable). */
  oomKillDisable?: boolean;
  /** Block I/O weight, 10..1000 (--blkio-weight). */
  blkioWeight?: number;
}

/** The CLI flags parseLimits understands, as given by the user (strings or parsed values). */
export type LimitFlags = Partial<
  Record<
    | "memory"
    | "memory-swap"
    | "memory-reservation"
    | "cpus"
    | "cpu-shares"
    | "cpu-period"
    | "cpu-quota"
    | "cpuset-cpus"
    | "cpuset-mems"
    | "pids-limit"
    | "oom-kill-disable"
    | "blkio-weight",
    string | number | boolean | undefined
  >
>;

/** What validation needs to know about the host. */
export interface HostResources {
  /** cgroup version in use. */
  version: 1 | 2;
  /** Online CPUs (/sys/devices/system/cpu/online). */
  cpus: number[];
  /** Online memory nodes (/sys/devices/system/node/online; [0] without NUMA). */
  mems: number[];
}

/** Reads the host facts parseLimits validates against. */
export async function hostResources(): Promise<HostResources> {
  const list = async (path: string, fallback: number[]) => {
    try {
      return parseCpuList(await readText(path)) ?? fallback;
    } catch {
      return fallback;
    }
  };
  const { version } = await detectCgroups();
  return {
    version,
    cpus: await list("/sys/devices/system/cpu/online", [0]),
    mems: await list("/sys/devices/system/node/online", [0]),
  };
}

/** Docker's lower bound for --memory and --memory-reservation (runc refuses less). */
export const MIN_MEMORY = 6 * 1024 * 1024;

const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

function bad(flag: string, value: unknown, why: string): UsageError {
  return new UsageError(`invalid value "${value}" for --${flag}: ${why}`);
}

/** Parses a Docker size ("256m", "1.5g", "1024", "512MiB") into bytes; null when malformed. */
export function parseSize(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?) ?([bkmgt])?(?:i?b)?$/i.exec(value.trim());
  if (!m) return null;
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? "b").toLowerCase()]);
}

function size(flag: string, value: string | number | boolean): number {
  const n = typeof value === "number" ? value : parseSize(String(value));
  if (n === null || !Number.isFinite(n) || typeof value === "boolean") {
    throw bad(flag, value, "expected a number with an optional unit b, k, m or g");
  }
  return n;
}

function int(flag: string, value: string | number | boolean, what = "an integer"): number {
  const s = String(value).trim();
  if (typeof value === "boolean" || !/^-?\d+$/.test(s)) throw bad(flag, value, `expected ${what}`);
  return Number(s);
}

function bool(flag: string, value: string | number | boolean): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1" || value === "") return true;
  if (value === "false" || value === "0") return false;
  throw bad(flag, value, "expected true or false");
}

function cpuList(flag: string, value: string | number | boolean, online: number[]): string {
  const ids = parseCpuList(String(value));
  if (ids === null || ids.length === 0 || typeof value === "boolean") {
    throw bad(flag, value, "expected a list like 0-3 or 0,1");
  }
  const missing = ids.filter((i) => !online.includes(i));
  if (missing.length > 0) {
    throw bad(
      flag,
      value,
      `${formatCpuList(missing)} not available (online: ${formatCpuList(online)})`,
    );
  }
  return String(value).trim();
}

/**
 * Parses and validates Docker's resource flags.
 *
 * @example
 * ```ts
 * const limits = await parseLimits({ memory: "256m", cpus: "0.5", "pids-limit": "100" });
 * // { memory: 268435456, memorySwap: 536870912, cpuPeriod: 100000, cpuQuota: 50000, pidsLimit: 100 }
 * ```
 */
export async function parseLimits(
  flags: LimitFlags,
  host?: HostResources,
): Promise<Limits> {
  const h = host ?? await hostResources();
  const f = Object.fromEntries(
    Object.entries(flags).filter(([, v]) => v !== undefined),
  ) as Record<keyof LimitFlags, string | number | boolean>;
  const has = (k: keyof LimitFlags) => k in f;
  const out: Limits = {};

  if (has("memory")) {
    const n = size("memory", f.memory);
    if (n !== 0 && n < MIN_MEMORY) throw bad("memory", f.memory, "the minimum is 6m");
    if (n > 0) out.memory = n;
  }
  if (has("memory-reservation")) {
    const n = size("memory-reservation", f["memory-reservation"]);
    if (n !== 0 && n < MIN_MEMORY) {
      throw bad("memory-reservation", f["memory-reservation"], "the minimum is 6m");
    }
    if (out.memory !== undefined && n > out.memory) {
      throw bad("memory-reservation", f["memory-reservation"], "it must not exceed --memory");
    }
    if (n > 0) out.memoryReservation = n;
  }
  if (has("memory-swap")) {
    const v = f["memory-swap"];
    const n = String(v).trim() === "-1" ? -1 : size("memory-swap", v);
    if (n !== 0) {
      if (out.memory === undefined) {
        throw bad("memory-swap", v, "it needs --memory (it is memory plus swap)");
      }
      if (n !== -1 && n < out.memory) {
        throw bad("memory-swap", v, "it must be -1 (unlimited) or at least --memory");
      }
      out.memorySwap = n;
    }
  }
  // Docker's daemon default: with --memory and no --memory-swap, swap may equal memory.
  if (out.memory !== undefined && out.memorySwap === undefined) out.memorySwap = out.memory * 2;

  if (has("cpus")) {
    if (has("cpu-period") || has("cpu-quota")) {
      throw bad("cpus", f.cpus, "it cannot be combined with --cpu-period or --cpu-quota");
    }
    const s = String(f.cpus).trim();
    const n = Number(s);
    if (typeof f.cpus === "boolean" || s === "" || !Number.isFinite(n) || n < 0) {
      throw bad("cpus", f.cpus, "expected a number of CPUs like 0.5 or 2");
    }
    if (n !== 0) {
      if (n < 0.01 || n > h.cpus.length) {
        throw bad("cpus", f.cpus, `expected 0.01 to ${h.cpus.length} (the host's online CPUs)`);
      }
      out.cpuPeriod = 100_000;
      out.cpuQuota = Math.round(n * 100_000);
    }
  }
  if (has("cpu-period")) {
    const n = int("cpu-period", f["cpu-period"], "microseconds from 1000 to 1000000");
    if (n !== 0 && (n < 1000 || n > 1_000_000)) {
      throw bad("cpu-period", f["cpu-period"], "expected microseconds from 1000 to 1000000");
    }
    if (n !== 0) out.cpuPeriod = n;
  }
  if (has("cpu-quota")) {
    const n = int("cpu-quota", f["cpu-quota"], "microseconds, at least 1000, or -1");
    if (n !== 0 && n !== -1 && n < 1000) {
      throw bad("cpu-quota", f["cpu-quota"], "expected microseconds, at least 1000, or -1");
    }
    if (n !== 0) out.cpuQuota = n;
  }
  if (has("cpu-shares")) {
    const n = int("cpu-shares", f["cpu-shares"], "a weight from 2 to 262144");
    if (n !== 0 && (n < 2 || n > 262_144)) {
      throw bad("cpu-shares", f["cpu-shares"], "expected a weight from 2 to 262144");
    }
    if (n !== 0) out.cpuShares = n;
  }
  if (has("cpuset-cpus")) out.cpusetCpus = cpuList("cpuset-cpus", f["cpuset-cpus"], h.cpus);
  if (has("cpuset-mems")) out.cpusetMems = cpuList("cpuset-mems", f["cpuset-mems"], h.mems);
  if (has("pids-limit")) {
    const n = int("pids-limit", f["pids-limit"], "a number of tasks, or -1 for unlimited");
    out.pidsLimit = n <= 0 ? -1 : n;
  }
  if (has("oom-kill-disable") && bool("oom-kill-disable", f["oom-kill-disable"])) {
    if (h.version === 2) {
      throw new UsageError("--oom-kill-disable is not supported on cgroup v2");
    }
    out.oomKillDisable = true;
  }
  if (has("blkio-weight")) {
    const n = int("blkio-weight", f["blkio-weight"], "a weight from 10 to 1000");
    if (n !== 0 && (n < 10 || n > 1000)) {
      throw bad("blkio-weight", f["blkio-weight"], "expected a weight from 10 to 1000");
    }
    if (n !== 0) out.blkioWeight = n;
  }
  return out;
}
