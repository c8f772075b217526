/**
 * Create, open, list and clean up container cgroups, on whichever version the host has.
 */

import { SysError } from "../../ffi/errno.ts";
import { NotFoundError } from "../errors.ts";
import { type CgroupHost, detectCgroups } from "./detect.ts";
import { DEFAULT_DEVICES } from "./devices.ts";
import { childDirs } from "./files.ts";
import { type CgroupManager, checkName, type CreateOptions } from "./manager.ts";
import { V1Cgroup } from "./v1.ts";
import { V2Cgroup } from "./v2.ts";

/** The parent cgroup every hako container lives under. */
export const DEFAULT_PARENT = "hako";

/**
 * Creates `<hierarchy>/<parentPath>/<name>` in every hierarchy in use, applies the default
 * device rules (v1) and `opts.limits`. On failure, whatever was made is removed again.
 *
 * @example
 * ```ts
 * const limits = await parseLimits({ memory: "256m" });
 * const cg = await createCgroup("c0ffee", DEFAULT_PARENT, { limits });
 * // runtime: open cg.procsFiles() O_WRONLY, child writes "0" to each, then execve
 * await cg.remove();
 * ```
 */
export async function createCgroup(
  name: string,
  parentPath = DEFAULT_PARENT,
  opts: CreateOptions = {},
): Promise<CgroupManager> {
  checkName(name, parentPath);
  const host = opts.host ?? await detectCgroups();
  const cg = host.version === 2
    ? new V2Cgroup(name, parentPath, host)
    : new V1Cgroup(name, parentPath, host);
  for (let attempt = 0;; attempt++) {
    try {
      if (cg instanceof V2Cgroup) await cg.create();
      else await cg.create(opts.devices ?? DEFAULT_DEVICES);
      if (opts.limits) await cg.apply(opts.limits);
      return cg;
    } catch (e) {
      await cg.remove().catch(() => {});
      // Another hako removed the empty shared parent between our mkdirs: make it again.
      if (e instanceof SysError && e.code === "ENOENT" && attempt < 3) continue;
      throw e;
    }
  }
}

/** Opens the cgroup(s) of an existing container (exec, stats, rm from another hako). */
export async function openCgroup(
  name: string,
  parentPath = DEFAULT_PARENT,
  opts: { host?: CgroupHost } = {},
): Promise<CgroupManager> {
  checkName(name, parentPath);
  const host = opts.host ?? await detectCgroups();
  const cg = host.version === 2
    ? new V2Cgroup(name, parentPath, host)
    : new V1Cgroup(name, parentPath, host);
  if (!(await cg.exists())) {
    throw new NotFoundError(`open cgroup ${parentPath}/${name}: no such cgroup`);
  }
  return cg;
}

/** Names of the container cgroups under `parentPath`, in any hierarchy, sorted. */
export async function listCgroups(
  parentPath = DEFAULT_PARENT,
  opts: { host?: CgroupHost } = {},
): Promise<string[]> {
  const host = opts.host ?? await detectCgroups();
  const roots = host.version === 2 ? [host.unified!] : [
    ...new Set(Object.values(host.v1)),
    ...(host.unified ? [host.unified] : []),
  ];
  const names = new Set<string>();
  for (const r of roots) for (const n of await childDirs(`${r}/${parentPath}`)) names.add(n);
  return [...names].sort();
}

/**
 * Removes the cgroups of containers that no longer exist (after a crash), killing anything
 * left in them. Returns the names removed.
 */
export async function removeOrphans(
  alive: (name: string) => boolean | Promise<boolean>,
  parentPath = DEFAULT_PARENT,
  opts: { host?: CgroupHost } = {},
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listCgroups(parentPath, opts)) {
    if (await alive(name)) continue;
    const cg = await openCgroup(name, parentPath, opts).catch(() => null);
    if (!cg) continue;
    await cg.remove();
    removed.push(name);
  }
  return removed;
}
