/**
 * Starts the process of an OCI bundle: reads config.json, works out on the host what the
 * child needs (symlink-safe mount targets, the executable's path, cgroup fds), builds the
 * plan and has the trampoline clone and run it. Used by `hako run` and the OCI runtime CLI.
 */

import {
  AT_FDCWD,
  close,
  kill,
  O,
  openat,
  type Plan,
  spawn,
  type Spawned,
  start,
  SysError,
  wait4,
} from "../../ffi/mod.ts";
import { readJson } from "../../ffi/fs.ts";
import { lstatSync } from "../../ffi/kfs.ts";
import { CommandError, InvalidDataError } from "../errors.ts";
import { buildContainerPlan, cloneFlags } from "./container_plan.ts";
import { lookup, resolveInRoot } from "./rootpath.ts";
import { OVERLAY_ANNOTATION, type Spec } from "./spec.ts";
import type { ConsoleInput } from "./tty.ts";

/** How to start a bundle's process. */
export interface StartOptions {
  /** Parent fds that become the container's 0, 1, 2 (-1 = inherit hako's). */
  stdio?: [number, number, number];
  /** cgroup.procs files the process joins before its first instruction. */
  cgroupProcs?: string[];
  /** For `-t`: the console socket the plan sends the container's pty master over. */
  console?: ConsoleInput;
  /** Namespace files to join instead of creating (e.g. "network" → /proc/<pid>/ns/net). */
  joinNamespaces?: { type: string; path: string }[];
  /** Work between clone and execve, e.g. wiring the new network namespace (net/attach.ts). */
  hook?: StartHook;
}

/**
 * Host-side work on a child that exists but has not exec'd yet: `early` and `late` add plan
 * steps (the child's side of a hand-off); `started` runs in hako once the child is cloned,
 * and the child may not exec before it resolves (its `late` steps wait for that). When it
 * rejects, the child is killed and the error (or the child's own failure) is thrown.
 */
export interface StartHook {
  early(p: Plan): void;
  late(p: Plan): void;
  started(pid: number): Promise<void>;
  /** Always called once the start settled (close hand-off fds). */
  done(): void;
}

/** Clones the plan and runs the hook before letting the child exec. */
async function spawnWithHook(plan: Plan, flags: number, hook: StartHook): Promise<Spawned> {
  const s = start(plan, { cloneFlags: flags });
  try {
    await hook.started(s.pid);
  } catch (e) {
    try {
      kill(s.pid, 9);
    } catch { /* already gone */ }
    // The child's own failure (reported on its pipe) explains more than ours.
    const failed = await s.report().then(() => null, (err) => err);
    if (!failed) await wait4(s.pid).catch(() => {});
    throw failed ?? e;
  } finally {
    hook.done();
  }
  return await s.report();
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Reads and checks a bundle's config.json. */
export async function loadSpec(bundle: string): Promise<Spec> {
  let spec: Spec;
  try {
    spec = await readJson<Spec>(`${bundle}/config.json`);
  } catch (e) {
    throw new InvalidDataError(`read ${bundle}/config.json: ${(e as Error).message}`);
  }
  if (!spec.process?.args?.length) {
    throw new InvalidDataError(`${bundle}/config.json: process.args is empty`);
  }
  if (!spec.root?.path) throw new InvalidDataError(`${bundle}/config.json: root.path is missing`);
  return spec;
}

/** The directories that make up the root as the container will see it, topmost first. */
export function rootLayers(
  spec: Spec,
  rootfs: string,
): { layers: string[]; overlay?: { data: string; cwd: string } } {
  const ov = spec.annotations?.[OVERLAY_ANNOTATION];
  if (!ov) return { layers: [rootfs] };
  const data = JSON.parse(ov) as { data: string; cwd: string };
  const opts = new Map(
    data.data.split(",").map((kv) => {
      const i = kv.indexOf("=");
      return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
    }),
  );
  const abs = (p: string) => p.startsWith("/") ? p : `${data.cwd}/${p}`;
  const lowers = (opts.get("lowerdir") ?? "").split(":").filter(Boolean).map(abs);
  const upper = opts.get("upperdir");
  return { layers: upper ? [abs(upper), ...lowers] : lowers, overlay: data };
}

/** Finds argv[0] inside the root the way execvp would, or throws the error Docker gives. */
async function findExecutable(layers: string[], cmd: string, env: string[]): Promise<string> {
  const exists = async (abs: string) => {
    const found = lookup(layers, await resolveInRoot(layers, abs));
    return found !== null && !found.isDirectory;
  };
  if (cmd.includes("/")) {
    const abs = cmd.startsWith("/") ? cmd : `/${cmd}`;
    if (!(await exists(abs))) {
      throw new CommandError(`exec: "${cmd}": stat ${cmd}: no such file or directory`, 127);
    }
    return cmd;
  }
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of path.split(":").filter(Boolean)) {
    const cand = `${dir.replace(/\/+$/, "")}/${cmd}`;
    if (await exists(cand)) return cand;
  }
  throw new CommandError(`exec: "${cmd}": executable file not found in $PATH`, 127);
}

/**
 * Clones the container process of `bundle` and returns its pid once it has exec'd.
 * A step that fails comes back as an error naming it; nothing is left running.
 */
export async function startBundle(bundle: string, spec: Spec, opts: StartOptions = {}) {
  const root = spec.root!.path;
  const rootfs = root.startsWith("/") ? root : `${bundle}/${root}`;
  const { layers, overlay } = rootLayers(spec, rootfs);
  const proc = spec.process!;
  const resolved = new Map<string, string>();
  const fileBinds = new Set<string>();
  for (const m of spec.mounts ?? []) {
    resolved.set(m.destination, await resolveInRoot(layers, m.destination));
    const bind = m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
    if (bind) {
      const st = lstatSync(m.source ?? "", true);
      if (!st) {
        throw new InvalidDataError(
          `mount ${m.source} on ${m.destination}: bind source path does not exist: ${m.source}`,
        );
      }
      if ((st.mode & 0o170000) !== 0o040000) fileBinds.add(m.destination);
    }
  }
  resolved.set(proc.cwd, await resolveInRoot(layers, proc.cwd));
  const exe = await findExecutable(layers, proc.args[0], proc.env ?? []);

  const fds: number[] = [];
  try {
    const cgroupProcsFds = (opts.cgroupProcs ?? []).map((p) => {
      const fd = openat(AT_FDCWD, p, O.WRONLY | O.CLOEXEC);
      fds.push(fd);
      return fd;
    });
    const joinNamespaces = (opts.joinNamespaces ?? []).map((n) => {
      const fd = openat(AT_FDCWD, n.path, O.RDONLY | O.CLOEXEC);
      fds.push(fd);
      return { fd, flag: 0 };
    });
    const plan = buildContainerPlan({
      spec,
      rootfs,
      overlay,
      resolved,
      fileBinds,
      execPaths: [exe],
      stdio: opts.stdio,
      cgroupProcsFds,
      joinNamespaces,
      console: opts.console,
      early: opts.hook && ((p) => opts.hook!.early(p)),
      late: opts.hook && ((p) => opts.hook!.late(p)),
    });
    try {
      if (opts.hook) return await spawnWithHook(plan, cloneFlags(spec), opts.hook);
      return await spawn(plan, { cloneFlags: cloneFlags(spec) });
    } catch (e) {
      if (e instanceof SysError && e.what.startsWith("exec ")) {
        if (e.code === "EACCES") {
          throw new CommandError(`exec: "${proc.args[0]}": permission denied`, 126, { cause: e });
        }
        if (e.code === "ENOENT" || e.code === "ENOEXEC") {
          throw new CommandError(`exec: "${proc.args[0]}": ${e.message}`, 127, { cause: e });
        }
      }
      throw e;
    }
  } finally {
    for (const fd of fds) close(fd);
  }
}
