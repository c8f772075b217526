/**
 * Small file helpers for cgroupfs: read a value, write a value with an error that names the
 * file, parse the kernel's "key value" files, remove a cgroup directory, signal a pid.
 */

import { HakoError } from "../errors.ts";
import { readSubdirs } from "../../ffi/fs.ts";
import { E, errnoMessage, errnoName, SysError } from "../../ffi/errno.ts";
import { kill } from "../../ffi/signal.ts";
import { readSmall, rmdirSmall, writeSmall } from "../../ffi/kfs.ts";

/** A cgroup file could not be read, written or removed; names the file and the errno. */
export class CgroupError extends HakoError {}

/** "EINVAL (Invalid argument)" from a Deno or Bun (node) file error. */
export function describeError(e: unknown): string {
  if (e instanceof SysError) return `${e.code} (${errnoMessage(e.errno)})`;
  // deno-lint-ignore no-explicit-any
  const err = e as any;
  const text = String(err?.message ?? err);
  // Bun (node) errors carry errno and code; Deno gives `code` only for errnos it has a class
  // for, but its message always ends in "(os error N)".
  let errno = Math.abs(Number(err?.errno ?? /\(os error (\d+)\)/.exec(text)?.[1] ?? NaN));
  const code = typeof err?.code === "string" && /^E[A-Z0-9]+$/.test(err.code) ? err.code : null;
  if (!Number.isFinite(errno) && code) errno = (E as Record<string, number>)[code] ?? NaN;
  if (!Number.isFinite(errno)) return text;
  return `${errnoName(errno)} (${errnoMessage(errno)})`;
}

/** Writes `value` to a cgroup control file. */
// cgroupfs answers from memory: raw synchronous syscalls take microseconds, where an async
// file API costs a thread-pool round trip per call (this is on the container start path).
// deno-lint-ignore require-await
export async function writeValue(dir: string, file: string, value: string | number) {
  const path = `${dir}/${file}`;
  try {
    writeSmall(path, String(value));
  } catch (e) {
    throw new CgroupError(`write "${value}" to ${path}: ${describeError(e)}`, { cause: e });
  }
}

/** Reads a control file, trimmed; null when the file does not exist. */
// deno-lint-ignore require-await
export async function readValue(dir: string, file: string): Promise<string | null> {
  try {
    return readSmall(`${dir}/${file}`)?.trim() ?? null;
  } catch (e) {
    // deno-lint-ignore no-explicit-any
    const code = (e as any)?.code;
    if (code === "ENOENT" || code === "ENODEV" || (e as Error)?.name === "NotFound") return null;
    throw new CgroupError(`read ${dir}/${file}: ${describeError(e)}`, { cause: e });
  }
}

/** Reads an integer control file; "max" and v1's near-2^63 "unlimited" give null. */
export async function readInt(dir: string, file: string): Promise<number | null | undefined> {
  const v = await readValue(dir, file);
  if (v === null) return undefined;
  return parseIntValue(v);
}

/** Parses "123", "max" or v1's unlimited (PAGE_COUNTER_MAX * page size) into number | null. */
export function parseIntValue(v: string): number | null {
  if (v === "max" || v === "-1") return null;
  const n = Number(v);
  // v1 reports "no limit" as LONG_MAX rounded down to a page: anything past 2^62 is that.
  if (!Number.isFinite(n) || n >= 2 ** 62) return null;
  return n;
}

/** Parses flat keyed files ("cache 123\nrss 456", cpu.stat, memory.events, oom_control). */
export function parseKeyed(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

/** pids in a cgroup.procs file (empty when the cgroup is gone). */
export async function readPids(dir: string): Promise<number[]> {
  const v = await readValue(dir, "cgroup.procs");
  if (!v) return [];
  return v.split("\n").map(Number).filter((n) => n > 0);
}

/** Resolves after `ms` milliseconds without blocking the event loop. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** rmdir(2) of one cgroup directory; a missing directory is not an error. */
// deno-lint-ignore require-await
export async function rmdir(path: string): Promise<void> {
  rmdirSmall(path);
}

/** Child cgroup directory names (cgroupfs lists control files too; keep only directories). */
export function childDirs(dir: string): Promise<string[]> {
  return readSubdirs(dir);
}

const SIGNUM: Record<string, number> = {
  SIGKILL: 9,
  SIGTERM: 15,
  SIGINT: 2,
  SIGHUP: 1,
  SIGQUIT: 3,
  SIGSTOP: 19,
  SIGCONT: 18,
  SIGUSR1: 10,
  SIGUSR2: 12,
};

/** kill(2); a pid that has already gone (ESRCH) is not an error. */
export function signalPid(pid: number, signal: string | number): void {
  const n = typeof signal === "number"
    ? signal
    : SIGNUM[signal.toUpperCase().replace(/^(?!SIG)/, "SIG")];
  if (n === undefined) throw new CgroupError(`unknown signal ${signal}`);
  try {
    kill(pid, n);
  } catch (e) {
    if (!(e instanceof SysError) || e.code !== "ESRCH") throw e;
  }
}
