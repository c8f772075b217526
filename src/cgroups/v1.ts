/**
 * cgroup v1 (and hybrid) implementation: one directory per hierarchy, `<mount>/hako/<name>`.
 * On a hybrid host a directory in the controller-less unified tree is added as well, for
 * cgroup.kill (see detect.ts).
 */

import { stat } from "../../ffi/fs.ts";
import { mkdirSmall } from "../../ffi/kfs.ts";
import type { CgroupHost, V1Controller } from "./detect.ts";
import type { Limits } from "./limits.ts";
import { type CgroupManager, drainAndRemove, emptyStats, pidsIn, type Stats } from "./manager.ts";
import { CgroupError, signalPid, writeValue } from "./files.ts";
import type { DeviceRule } from "./devices.ts";
import * as blkio from "./blkio.ts";
import * as cpu from "./cpu.ts";
import * as cpuset from "./cpuset.ts";
import * as devices from "./devices.ts";
import * as freezer from "./freezer.ts";
import * as memory from "./memory.ts";
import * as pids from "./pids.ts";

/** Which controller a limit needs, to name it when the host lacks that hierarchy. */
const NEEDS: [keyof Limits, V1Controller][] = [
  ["memory", "memory"],
  ["memorySwap", "memory"],
  ["memoryReservation", "memory"],
  ["oomKillDisable", "memory"],
  ["cpuQuota", "cpu"],
  ["cpuPeriod", "cpu"],
  ["cpuShares", "cpu"],
  ["cpusetCpus", "cpuset"],
  ["cpusetMems", "cpuset"],
  ["pidsLimit", "pids"],
  ["blkioWeight", "blkio"],
];

/** A container's cgroups on a v1 or hybrid host. */
export class V1Cgroup implements CgroupManager {
  readonly paths: string[];
  /** Controller → the container's directory in that controller's hierarchy. */
  readonly dirs: Partial<Record<V1Controller, string>> = {};
  /** The hybrid's unified-tree directory, when the host has one. */
  readonly unifiedDir?: string;

  constructor(readonly name: string, readonly parent: string, readonly host: CgroupHost) {
    const rel = `${parent}/${name}`;
    for (const [c, mount] of Object.entries(host.v1)) {
      this.dirs[c as V1Controller] = `${mount}/${rel}`;
    }
    if (host.unified) this.unifiedDir = `${host.unified}/${rel}`;
    // Co-mounted controllers (cpu,cpuacct) share one directory.
    this.paths = [...new Set(Object.values(this.dirs))];
    if (this.unifiedDir) this.paths.push(this.unifiedDir);
  }

  /** Makes every directory; cpuset levels inherit cpus/mems so joining cannot hit ENOSPC. */
  async create(devicesRules: readonly DeviceRule[]): Promise<void> {
    const levels = [...this.parent.split("/"), this.name];
    for (const [c, mount] of Object.entries(this.host.v1)) {
      if (c !== "cpuset") {
        for (let i = 1; i <= levels.length; i++) {
          mkdirSmall(`${mount}/${levels.slice(0, i).join("/")}`);
        }
        continue;
      }
      let dir = mount;
      for (const level of levels) {
        const parentDir = dir;
        dir = `${dir}/${level}`;
        mkdirSmall(dir);
        await cpuset.inheritV1(parentDir, dir);
      }
    }
    if (this.unifiedDir) {
      // Optional extra (cgroup.kill): a host whose unified tree refuses us still works.
      try {
        for (let i = 1; i <= levels.length; i++) {
          mkdirSmall(`${this.host.unified}/${levels.slice(0, i).join("/")}`);
        }
      } catch {
        (this as { unifiedDir?: string }).unifiedDir = undefined;
        this.paths.pop();
      }
    }
    if (this.dirs.devices) await devices.applyV1(this.dirs.devices, devicesRules);
  }

  /** True when at least one of the container's directories exists. */
  async exists(): Promise<boolean> {
    for (const p of this.paths) if ((await stat(p))?.isDirectory) return true;
    return false;
  }

  procsFiles(): string[] {
    return this.paths.map((p) => `${p}/cgroup.procs`);
  }

  async apply(limits: Limits): Promise<void> {
    for (const [key, c] of NEEDS) {
      if (limits[key] !== undefined && !this.dirs[c]) {
        throw new CgroupError(
          `apply limits to cgroup ${this.name}: this host does not mount the ${c} controller`,
        );
      }
    }
    const d = this.dirs;
    if (d.memory) await memory.applyV1(d.memory, limits);
    if (d.cpu) await cpu.applyV1(d.cpu, limits);
    if (d.cpuset) await cpuset.applyV1(d.cpuset, limits);
    if (d.pids) await pids.apply(d.pids, limits);
    if (d.blkio) await blkio.applyV1(d.blkio, limits);
  }

  async stats(): Promise<Stats> {
    const s = emptyStats();
    const d = this.dirs;
    s.cpu = await cpu.statsV1(d.cpu, d.cpuacct);
    if (d.memory) s.memory = await memory.statsV1(d.memory);
    if (d.pids) s.pids = await pids.stats(d.pids);
    if (d.blkio) s.blkio = await blkio.statsV1(d.blkio);
    return s;
  }

  pids(): Promise<number[]> {
    return pidsIn(this.paths);
  }

  async freeze(): Promise<void> {
    if (!this.dirs.freezer) {
      throw new CgroupError(`freeze cgroup ${this.name}: this host does not mount the freezer`);
    }
    await freezer.setV1(this.dirs.freezer, true);
  }

  async thaw(): Promise<void> {
    if (this.dirs.freezer) await freezer.setV1(this.dirs.freezer, false);
  }

  async kill(signal = "SIGKILL"): Promise<void> {
    if (signal === "SIGKILL" && this.unifiedDir && (await stat(`${this.unifiedDir}/cgroup.kill`))) {
      await writeValue(this.unifiedDir, "cgroup.kill", 1);
    }
    // Tasks may sit only in the v1 dirs (joined by an older hako, or cgroup.kill missing):
    // signal every pid too. With SIGKILL, freeze first so nothing forks between listing and
    // killing; a frozen task dies as soon as it is thawed.
    const frozen = signal === "SIGKILL" && this.dirs.freezer && (await this.exists());
    if (frozen) await this.freeze().catch(() => {});
    try {
      for (const pid of await this.pids()) signalPid(pid, signal);
    } finally {
      if (frozen) await this.thaw().catch(() => {});
    }
  }

  remove(): Promise<void> {
    return drainAndRemove(this);
  }
}
