/**
 * Which cgroup hierarchies this host has, read once from /proc/self/mountinfo.
 *
 * - Pure v2: one cgroup2 mount (normally /sys/fs/cgroup) whose cgroup.controllers lists the
 *   controllers; no v1 controller is mounted.
 * - v1, including the hybrid layout systemd makes (v1 controllers plus a cgroup2 mount at
 *   /sys/fs/cgroup/unified that holds few or no controllers): every controller mounted as v1
 *   is used as v1. The hybrid's unified tree is kept too, because a directory there is cheap
 *   (one mkdir, one more cgroup.procs to join) and gives what v1 lacks: `cgroup.kill` to
 *   kill every process of the container atomically, with no pid-reuse or fork race.
 */

import { readText } from "../../ffi/fs.ts";
import { CgroupError, readValue } from "./files.ts";

/** The v1 controllers hako uses (name=systemd and the rest are left alone). */
export const V1_CONTROLLERS = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
] as const;

/** A v1 controller hako uses. */
export type V1Controller = typeof V1_CONTROLLERS[number];

/** The v2 controllers hako enables for containers when the host has them. */
export const V2_CONTROLLERS = ["cpu", "cpuset", "io", "memory", "pids"] as const;

/** The cgroup layout of the host. */
export interface CgroupHost {
  /** 2 when the host is cgroup2-only; 1 for v1 and hybrid hosts. */
  version: 1 | 2;
  /** v1: mount point of each controller hako uses (co-mounted controllers share one). */
  v1: Partial<Record<V1Controller, string>>;
  /** The cgroup2 mount point: the whole hierarchy on v2, the hybrid's unified tree on v1. */
  unified?: string;
  /** v2: controllers listed in the root's cgroup.controllers. */
  controllers: string[];
}

interface Mount {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Unescapes mountinfo's octal escapes (`\040` is a space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup and cgroup2 mounts listed in a /proc/<pid>/mountinfo text. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fsType, _source, opts] = line.slice(sep + 3).split(" ");
    if (fsType !== "cgroup" && fsType !== "cgroup2") continue;
    mounts.push({ mountPoint: unescape(left[4]), fsType, superOptions: (opts ?? "").split(",") });
  }
  return mounts;
}

/** Builds the host description from a mountinfo text and the cgroup2 root's controllers. */
export async function hostFromMounts(
  mounts: Mount[],
  unifiedControllers: (mountPoint: string) => Promise<string[]>,
): Promise<CgroupHost> {
  const v1: Partial<Record<V1Controller, string>> = {};
  let unified: string | undefined;
  for (const m of mounts) {
    if (m.fsType === "cgroup2") {
      unified ??= m.mountPoint;
      continue;
    }
    for (const c of V1_CONTROLLERS) {
      if (m.superOptions.includes(c) && !v1[c]) v1[c] = m.mountPoint;
    }
  }
  const version = Object.keys(v1).length > 0 ? 1 : 2;
  if (version === 2 && !unified) {
    throw new CgroupError("find cgroups: no cgroup or cgroup2 file system is mounted");
  }
  const controllers = unified ? await unifiedControllers(unified) : [];
  return { version, v1, unified, controllers };
}

let memo: Promise<CgroupHost> | undefined;

/** Detects the host's cgroup layout (memoized: mounts do not change under a running hako). */
export function detectCgroups(): Promise<CgroupHost> {
  memo ??= (async () => {
    const text = await readText("/proc/self/mountinfo");
    return await hostFromMounts(parseMountinfo(text), async (mp) => {
      const v = await readValue(mp, "cgroup.controllers");
      return v ? v.split(/\s+/) : [];
    });
  })();
  memo.catch(() => memo = undefined);
  return memo;
}

/** A v2 host description rooted at `root` (tests point it at a fake tree in a temp dir). */
export async function v2HostAt(root: string): Promise<CgroupHost> {
  const v = await readValue(root, "cgroup.controllers");
  return { version: 2, v1: {}, unified: root, controllers: v ? v.split(/\s+/) : [] };
}
