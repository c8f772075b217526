/**
 * Container cgroups behind one interface, for cgroup v1 (including systemd's hybrid layout)
 * and cgroup v2.
 *
 * - {@link detectCgroups} reads the layout once from /proc/self/mountinfo.
 * - {@link parseLimits} turns Docker's flags (`--memory 256m`, `--cpus 0.5`, ...) into
 *   validated {@link Limits} before anything is created.
 * - {@link createCgroup} makes the container's cgroup(s) and applies the limits; the runtime
 *   opens each of `procsFiles()` O_WRONLY and the child writes "0" to every fd before execve
 *   (on v2, clone3 with CLONE_INTO_CGROUP on `cgroupDir` is the alternative).
 * - `stats()`, `pids()`, `freeze()`/`thaw()`, `kill()`, `remove()` on the returned
 *   {@link CgroupManager}; {@link openCgroup} reopens it from another hako process.
 *
 * Not done: the v2 device filter (an eBPF program; on v2 device rules are not enforced by
 * the cgroup), the systemd cgroup driver, hugetlb/net_cls/net_prio/rdma controllers.
 *
 * @example
 * ```ts
 * import { createCgroup, parseLimits } from "./mod.ts";
 * const limits = await parseLimits({ memory: "256m", cpus: "0.5", "pids-limit": 100 });
 * const cg = await createCgroup("c0ffee", "hako", { limits });
 * try {
 *   console.log(cg.procsFiles(), await cg.stats());
 * } finally {
 *   await cg.remove();
 * }
 * ```
 * @module
 */

export { createCgroup, DEFAULT_PARENT, listCgroups, openCgroup, removeOrphans } from "./cgroup.ts";
export type { CgroupManager, CreateOptions, Stats } from "./manager.ts";
export { type CgroupHost, detectCgroups, v2HostAt } from "./detect.ts";
export {
  type HostResources,
  hostResources,
  type LimitFlags,
  type Limits,
  MIN_MEMORY,
  parseLimits,
  parseSize,
} from "./limits.ts";
export { ALL_DEVICES, DEFAULT_DEVICES, type DeviceRule } from "./devices.ts";
export { sharesToWeight } from "./cpu.ts";
export { CgroupError } from "./files.ts";
export type { CpuStats } from "./cpu.ts";
export type { MemoryStats } from "./memory.ts";
export type { PidsStats } from "./pids.ts";
export type { BlkioStats } from "./blkio.ts";
