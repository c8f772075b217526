/**
 * Facts about the host a reader needs to judge the figures: kernel, CPU, memory, cgroup
 * layout, what /dev/kvm is, the TSC frequency handed to TCG guests, and the hako build.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { detectKvm, detectTsc, type KvmInfo, type TscInfo } from "./vm.ts";
import { runCommand } from "./proc.ts";

/** What results.json records about the host. */
export interface HostFacts {
  hostname: string;
  kernel: string;
  kernelVersion: string;
  arch: string;
  cpu: string;
  cpus: number;
  memoryMiB: number;
  /** True when the CPU reports it runs under a hypervisor (the "hypervisor" flag). */
  virtualized: boolean;
  cgroup: { version: 1 | 2; layout: string };
  kvm: KvmInfo;
  tsc: TscInfo;
  distro: string;
  /** git describe of the repository (commit and whether it had local changes). */
  hakoCommit: string;
  /** /proc/loadavg when the facts were taken. */
  loadAverage: string;
}

async function text(path: string): Promise<string> {
  return await fs.readText(path).catch(() => "");
}

/** The cgroup layout as the host (pid 1's mount namespace) sees it. */
export async function cgroupLayout(): Promise<{ version: 1 | 2; layout: string }> {
  const mi = (await text("/proc/1/mountinfo")) || (await text("/proc/self/mountinfo"));
  const v1: string[] = [], v2: string[] = [];
  for (const line of mi.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const fstype = post.split(" ")[0];
    const mp = pre.split(" ")[4];
    if (fstype === "cgroup") v1.push(mp);
    if (fstype === "cgroup2") v2.push(mp);
  }
  if (v1.length === 0 && v2.length) return { version: 2, layout: `cgroup v2 only (${v2[0]})` };
  if (v1.length && v2.length) {
    return {
      version: 1,
      layout: `hybrid: ${v1.length} cgroup v1 hierarchies plus cgroup2 at ${v2.join(", ")}`,
    };
  }
  return { version: 1, layout: `cgroup v1 (${v1.length} hierarchies)` };
}

/** "0.52 0.61 0.70" (1, 5 and 15 minutes) from a /proc/loadavg text. */
export function loadAverage(loadavg: string): string {
  return loadavg.split(" ").slice(0, 3).join(" ");
}

/** Collects the host facts. */
export async function hostFacts(repo: string): Promise<HostFacts> {
  const cpuinfo = await text("/proc/cpuinfo");
  const meminfo = await text("/proc/meminfo");
  const osr = await text("/etc/os-release");
  const git = await runCommand(["git", "-C", repo, "describe", "--always", "--dirty"], {
    timeoutMs: 10_000,
  });
  return {
    hostname: (await text("/proc/sys/kernel/hostname")).trim(),
    kernel: (await text("/proc/version")).trim(),
    kernelVersion: (await text("/proc/sys/kernel/osrelease")).trim(),
    arch: (await runCommand(["uname", "-m"])).output.trim(),
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? "unknown",
    cpus: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    memoryMiB: Math.round(Number(meminfo.match(/^MemTotal:\s*(\d+)/m)?.[1] ?? 0) / 1024),
    virtualized: /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo),
    cgroup: await cgroupLayout(),
    kvm: await detectKvm(),
    tsc: await detectTsc(),
    distro: osr.match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1] ?? "unknown",
    hakoCommit: git.code === 0 ? git.output.trim() : "unknown",
    loadAverage: loadAverage(await text("/proc/loadavg")),
  };
}
