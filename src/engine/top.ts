/**
 * `top`: the processes of a running container, read from /proc like `ps -ef` on the host,
 * with each one's pid inside the container (the last NSpid of /proc/<pid>/status) beside
 * the host pid. The set is the container's cgroup, so `exec`'d processes are included.
 */

import * as fs from "../../ffi/fs.ts";
import { openCgroup } from "../cgroups/mod.ts";
import { ConflictError } from "../errors.ts";
import type { Paths } from "./paths.ts";
import { findId, loadRecord } from "./record.ts";

/** One process as `top` shows it. */
export interface TopProcess {
  /** User name (host /etc/passwd, as ps shows it) or uid. */
  user: string;
  /** Host pid. */
  pid: number;
  /** Host pid of the parent. */
  ppid: number;
  /** Pid inside the container's PID namespace. */
  containerPid: number;
  /** CPU use over its lifetime, percent (ps's C). */
  cpu: number;
  /** Start time, ms since the epoch. */
  started: number;
  /** Controlling terminal ("pts/0") or "?". */
  tty: string;
  /** CPU time used, seconds. */
  cpuSeconds: number;
  /** Command line, or [comm] for a kernel-style process without one. */
  cmd: string;
}

const HZ = 100; // USER_HZ: the unit of /proc/<pid>/stat times on every Linux ABI

function ttyName(nr: number): string {
  if (nr === 0) return "?";
  const major = (nr >> 8) & 0xfff, minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  if (major === 4) return `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return "console";
  return `${major},${minor}`;
}

async function users(): Promise<Map<number, string>> {
  const text = await fs.readText("/etc/passwd").catch(() => "");
  return new Map(
    text.split("\n").filter(Boolean).map((l) => l.split(":")).map((f) => [Number(f[2]), f[0]]),
  );
}

/** Reads one process; null when it has gone meanwhile. */
async function readProcess(
  pid: number,
  ctx: { names: Map<number, string>; bootMs: number; uptime: number },
): Promise<TopProcess | null> {
  try {
    const [stat, status, cmdline] = await Promise.all([
      fs.readText(`/proc/${pid}/stat`),
      fs.readText(`/proc/${pid}/status`),
      fs.readFile(`/proc/${pid}/cmdline`),
    ]);
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" "); // f[0] is field 3 (state)
    const ppid = Number(f[1]), ttyNr = Number(f[4]);
    const cpuSeconds = (Number(f[11]) + Number(f[12])) / HZ;
    const startSec = Number(f[19]) / HZ;
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/).map(Number) ?? [pid];
    const args = new TextDecoder().decode(cmdline).split("\0").filter((a, i, all) =>
      a !== "" || i < all.length - 1
    );
    const elapsed = ctx.uptime - startSec;
    return {
      user: ctx.names.get(uid) ?? String(uid),
      pid,
      ppid,
      containerPid: nspid[nspid.length - 1],
      cpu: elapsed > 0 ? Math.floor(cpuSeconds / elapsed * 100) : 0,
      started: ctx.bootMs + startSec * 1000,
      tty: ttyName(ttyNr),
      cpuSeconds,
      cmd: args.length ? args.join(" ") : `[${comm}]`,
    };
  } catch {
    return null;
  }
}

/**
 * The processes of the running container `ref`, in container pid order.
 *
 * @example
 * ```ts
 * (await containerProcesses(paths, "web")).map((p) => p.containerPid); // [1, 7]
 * ```
 */
export async function containerProcesses(paths: Paths, ref: string): Promise<TopProcess[]> {
  const c = await loadRecord(paths, await findId(paths, ref));
  if (!c.State.Running) throw new ConflictError(`container ${ref} is not running`);
  let pids = await openCgroup(c.Hako.Cgroup).then((g) => g.pids()).catch(() => [] as number[]);
  if (!pids.length) pids = [c.State.Pid];
  const stat = await fs.readText("/proc/stat");
  const btime = Number(/^btime\s+(\d+)/m.exec(stat)?.[1] ?? 0);
  const uptime = Number((await fs.readText("/proc/uptime")).split(" ")[0]);
  const ctx = { names: await users(), bootMs: btime * 1000, uptime };
  const out = await Promise.all(pids.map((p) => readProcess(p, ctx)));
  return out.filter((p): p is TopProcess => p !== null).sort((a, b) =>
    a.containerPid - b.containerPid || a.pid - b.pid
  );
}
