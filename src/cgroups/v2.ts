/**
 * cgroup v2 implementation: one directory, `<root>/hako/<name>`, with the controllers it needs
 * enabled in every ancestor's cgroup.subtree_control.
 *
 * Device rules are not applied on v2: that needs an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * attached to the directory, which hako does not build yet. Containers still get only the
 * device nodes hako creates in their /dev, but mknod of others is not refused by the cgroup.
 */

import { isExists, mkdir, stat } from "../../ffi/fs.ts";
import { type CgroupHost, V2_CONTROLLERS } from "./detect.ts";
import type { Limits } from "./limits.ts";
import { type CgroupManager, drainAndRemove, emptyStats, pidsIn, type Stats } from "./manager.ts";
import { CgroupError, readValue, signalPid, writeValue } from "./files.ts";
import * as blkio from "./blkio.ts";
import * as cpu from "./cpu.ts";
import * as cpuset from "./cpuset.ts";
import * as freezer from "./freezer.ts";
import * as memory from "./memory.ts";
import * as pids from "./pids.ts";

/** Which controller a limit needs on v2. */
const NEEDS: [keyof Limits, string][] = [
  ["memory", "memory"],
  ["memorySwap", "memory"],
  ["memoryReservation", "memory"],
  ["cpuQuota", "cpu"],
  ["cpuPeriod", "cpu"],
  ["cpuShares", "cpu"],
  ["cpusetCpus", "cpuset"],
  ["cpusetMems", "cpuset"],
  ["pidsLimit", "pids"],
  ["blkioWeight", "io"],
];

const words = (v: string | null) => (v ? v.split(/\s+/).filter(Boolean) : []);

/** A container's cgroup on a cgroup2-only host. */
export class V2Cgroup implements CgroupManager {
  readonly paths: string[];
  readonly cgroupDir: string;

  constructor(readonly name: string, readonly parent: string, readonly host: CgroupHost) {
    this.cgroupDir = `${host.unified}/${parent}/${name}`;
    this.paths = [this.cgroupDir];
  }

  /**
   * Makes the directory. Each ancestor must delegate the controllers to its children first
   * (a controller is usable in a cgroup only when enabled in the parent's subtree_control).
   */
  async create(): Promise<void> {
    let dir = this.host.unified!;
    for (const level of [...this.parent.split("/"), this.name]) {
      const available = words(await readValue(dir, "cgroup.controllers"));
      const enabled = words(await readValue(dir, "cgroup.subtree_control"));
      const missing = V2_CONTROLLERS.filter((c) => available.includes(c) && !enabled.includes(c));
      if (missing.length > 0) {
        await writeValue(dir, "cgroup.subtree_control", missing.map((c) => `+${c}`).join(" "))
          .catch(async () => {
            // The kernel takes all or nothing: retry one at a time so a controller it refuses
            // here (e.g. cpuset in a threaded subtree) does not keep the others off; apply()
            // then names what is missing.
            for (const c of missing) {
              await writeValue(dir, "cgroup.subtree_control", `+${c}`).catch(() => {});
            }
          });
      }
      dir = `${dir}/${level}`;
      await mkdir(dir, { recursive: false }).catch((e) => {
        if (!isExists(e)) throw e;
      });
    }
  }

  /** True when the directory exists. */
  async exists(): Promise<boolean> {
    return (await stat(this.cgroupDir))?.isDirectory === true;
  }

  procsFiles(): string[] {
    return [`${this.cgroupDir}/cgroup.procs`];
  }

  async apply(limits: Limits): Promise<void> {
    const dir = this.cgroupDir;
    const have = await readValue(dir, "cgroup.controllers");
    for (const [key, c] of NEEDS) {
      if (limits[key] !== undefined && have !== null && !words(have).includes(c)) {
        throw new CgroupError(
          `apply limits to cgroup ${this.name}: the ${c} controller is not enabled for ${dir}`,
        );
      }
    }
    await memory.applyV2(dir, limits);
    await cpu.applyV2(dir, limits);
    await cpuset.applyV2(dir, limits);
    await pids.apply(dir, limits);
    await blkio.applyV2(dir, limits);
  }

  async stats(): Promise<Stats> {
    const s = emptyStats();
    const dir = this.cgroupDir;
    s.cpu = await cpu.statsV2(dir);
    s.memory = await memory.statsV2(dir);
    s.pids = await pids.stats(dir);
    s.blkio = await blkio.statsV2(dir);
    return s;
  }

  pids(): Promise<number[]> {
    return pidsIn(this.paths);
  }

  freeze(): Promise<void> {
    return freezer.setV2(this.cgroupDir, true);
  }

  thaw(): Promise<void> {
    return freezer.setV2(this.cgroupDir, false);
  }

  async kill(signal = "SIGKILL"): Promise<void> {
    // cgroup.kill (Linux 5.14) kills the whole subtree atomically, even tasks forking.
    if (signal === "SIGKILL" && (await stat(`${this.cgroupDir}/cgroup.kill`))) {
      await writeValue(this.cgroupDir, "cgroup.kill", 1);
      return;
    }
    const frozen = signal === "SIGKILL" && (await this.exists());
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
