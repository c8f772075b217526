/**
 * The one interface the runtime sees, whichever cgroup version the host has (youki's
 * CgroupManager: create → join → apply → stats → remove).
 */

import { UsageError } from "../errors.ts";
import type { Limits } from "./limits.ts";
import type { CpuStats } from "./cpu.ts";
import type { MemoryStats } from "./memory.ts";
import type { PidsStats } from "./pids.ts";
import type { BlkioStats } from "./blkio.ts";
import type { DeviceRule } from "./devices.ts";
import type { CgroupHost } from "./detect.ts";
import { CgroupError, childDirs, describeError, readPids, rmdir, sleep } from "./files.ts";

/** Resource use of one container. */
export interface Stats {
  cpu: CpuStats;
  memory: MemoryStats;
  pids: PidsStats;
  blkio: BlkioStats;
}

/** The cgroup(s) of one container. */
export interface CgroupManager {
  /** Container name, relative to the parent ("hako"). */
  readonly name: string;
  /** Every cgroup directory made for the container (one per v1 hierarchy, or the v2 dir). */
  readonly paths: string[];
  /**
   * The cgroup.procs files a child must join before execve: the parent opens each O_WRONLY,
   * the child writes "0" to every fd (moving itself), then execs; the container never runs
   * outside its cgroup.
   */
  procsFiles(): string[];
  /** v2: the directory to open (O_PATH|O_DIRECTORY) for clone3's CLONE_INTO_CGROUP. */
  readonly cgroupDir?: string;
  /** Writes limits into the controller files. */
  apply(limits: Limits): Promise<void>;
  /** Reads usage counters. */
  stats(): Promise<Stats>;
  /** Every pid in the container's cgroup(s) and their sub-cgroups, sorted. */
  pids(): Promise<number[]>;
  /** Freezes every task (docker pause). */
  freeze(): Promise<void>;
  /** Thaws (docker unpause). */
  thaw(): Promise<void>;
  /** Signals every task; SIGKILL uses cgroup.kill when there is one (atomic, fork-proof). */
  kill(signal?: string): Promise<void>;
  /** Kills what is left, waits until empty, removes every directory; idempotent. */
  remove(): Promise<void>;
}

/** How a cgroup is created. */
export interface CreateOptions {
  /** Limits to write before any process joins (validated by parseLimits). */
  limits?: Limits;
  /** v1 device rules; default Docker's list, ALL_DEVICES for --privileged. */
  devices?: readonly DeviceRule[];
  /** Host layout; default detectCgroups() (tests pass a fake tree). */
  host?: CgroupHost;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a container name or parent path is a safe relative cgroup path. */
export function checkName(name: string, parent: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(`invalid cgroup name "${name}": use letters, digits, "_", "." or "-"`);
  }
  if (!parent.split("/").every((p) => NAME.test(p))) {
    throw new UsageError(`invalid cgroup parent "${parent}": expected a relative path like hako`);
  }
}

/** Zero stats for controllers a host does not mount. */
export function emptyStats(): Stats {
  return {
    cpu: { usageNs: 0, userNs: 0, systemNs: 0, periods: 0, throttledPeriods: 0, throttledNs: 0 },
    memory: { usage: 0, rawUsage: 0, limit: null, failcnt: 0, oomKills: 0 },
    pids: { current: 0, limit: null },
    blkio: { readBytes: 0, writeBytes: 0 },
  };
}

/** Union of the pids in cgroup directories and their sub-cgroups, sorted. */
export async function pidsIn(dirs: string[]): Promise<number[]> {
  const all = new Set<number>();
  const walk = async (d: string) => {
    for (const p of await readPids(d)) all.add(p);
    for (const c of await childDirs(d)) await walk(`${d}/${c}`);
  };
  for (const d of dirs) await walk(d);
  return [...all].sort((a, b) => a - b);
}

/** rmdir of a cgroup and any sub-cgroups the container made inside it, deepest first. */
async function rmdirTree(dir: string): Promise<void> {
  for (const child of await childDirs(dir)) await rmdirTree(`${dir}/${child}`);
  await rmdir(dir);
}

/**
 * Kills every task, waits for the cgroups to empty and removes them. Bounded: about 5 s of
 * async sleeps (10 ms growing to 100 ms) before it gives up with the pids still there.
 */
export async function drainAndRemove(m: CgroupManager): Promise<void> {
  let left: number[] = [];
  let lastError: unknown;
  for (let i = 0, waited = 0; waited < 5000; i++) {
    left = await m.pids();
    if (left.length === 0) {
      try {
        for (const p of m.paths) await rmdirTree(p);
        // The shared parent ("hako") goes too once the last container has left it, so an
        // idle host keeps no trace; a creator racing with this retries (createCgroup).
        for (const p of m.paths) {
          try {
            await rmdir(p.slice(0, p.lastIndexOf("/")));
          } catch { /* still in use (EBUSY/ENOTEMPTY) */ }
        }
        return;
      } catch (e) {
        // EBUSY: a task is still leaving (or was just forked); anything else is final.
        // deno-lint-ignore no-explicit-any
        const code = (e as any)?.code;
        if (code !== "EBUSY" && (e as Error)?.name !== "Busy") {
          throw new CgroupError(`remove cgroup ${m.name}: ${describeError(e)}`, { cause: e });
        }
        lastError = e;
      }
    } else {
      await m.kill("SIGKILL");
    }
    const ms = Math.min(10 * 2 ** i, 100);
    await sleep(ms);
    waited += ms;
  }
  const why = left.length ? `pids ${left.join(", ")} did not exit` : String(lastError);
  throw new CgroupError(`remove cgroup ${m.name}: ${why} within 5s`, { cause: lastError });
}
