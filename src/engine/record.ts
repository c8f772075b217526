/**
 * A container's record: one JSON file in Docker's `inspect` shape, so `inspect`, `ps`, the
 * API and scripts read the same thing. It is replaced atomically on every change and
 * guarded by a per-container lock, so several hako processes can act on it at once.
 */

import * as fs from "../../ffi/fs.ts";
import { kill, SysError } from "../../ffi/mod.ts";
import { withFileLock } from "../../ffi/lock.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { Paths } from "./paths.ts";
import type { Limits } from "../cgroups/mod.ts";

/** State{} as docker inspect shows it. */
export interface State {
  Status: "created" | "running" | "exited" | "removing" | "restarting";
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

/** A bind mount as inspect shows it. */
export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** The container record. */
export interface Container {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Image: string;
  State: State;
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    Image: string;
    Labels: Record<string, string>;
    Tty: boolean;
    OpenStdin: boolean;
    StopSignal?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
  };
  HostConfig: {
    Binds: string[];
    AutoRemove: boolean;
    NetworkMode: string;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    Privileged: boolean;
    CapAdd: string[];
    CapDrop: string[];
    SecurityOpt: string[];
    ReadonlyRootfs: boolean;
    Ulimits: { Name: string; Soft: number; Hard: number }[];
    // deno-lint-ignore no-explicit-any
    [limit: string]: any;
  };
  Mounts: MountPoint[];
  NetworkSettings: {
    Networks: Record<string, unknown>;
    IPAddress: string;
    Ports: Record<string, unknown>;
    /** Gateway, MacAddress, EndpointID, SandboxKey… (net/attach.ts). */
    [key: string]: unknown;
  };
  LogPath: string;
  HostnamePath: string;
  HostsPath: string;
  ResolvConfPath: string;
  RestartCount: number;
  /** hako's own bookkeeping (not in Docker's shape). */
  Hako: {
    /** /proc/<pid>/stat start time of Pid, to tell a live process from a reused pid. */
    StartTicks: number;
    /** The process that waits for the container and records its exit (0 = none). */
    MonitorPid: number;
    /** Set by stop/kill so a restart policy does not bring the container back. */
    StoppedByUser: boolean;
    /** The cgroup name (under hako/). */
    Cgroup: string;
    /** cgroup limits applied when the container starts. */
    Limits?: Limits;
  };
}

/** The directory of one container. */
export function containerDir(paths: Paths, id: string): string {
  return `${paths.containers}/${id}`;
}

/** Reads a record by exact id. */
export async function readRecord(paths: Paths, id: string): Promise<Container | null> {
  try {
    return await fs.readJson<Container>(`${containerDir(paths, id)}/container.json`);
  } catch (e) {
    if (fs.isNotFound(e)) return null;
    throw e;
  }
}

/** Writes a record atomically. */
export function writeRecord(paths: Paths, c: Container): Promise<void> {
  return fs.writeJsonAtomic(`${containerDir(paths, c.Id)}/container.json`, c);
}

/** All container ids in the store. */
export async function listIds(paths: Paths): Promise<string[]> {
  return (await fs.readDir(paths.containers)).filter((n) => /^[0-9a-f]{64}$/.test(n));
}

/**
 * Finds a container by name, full id or unique id prefix, as docker does.
 * Throws NotFoundError "no such container: X".
 */
export async function findId(paths: Paths, ref: string): Promise<string> {
  const name = ref.replace(/^\//, "");
  if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    try {
      const id = await fs.readLink(`${paths.names}/${name}`);
      if (await fs.exists(containerDir(paths, id))) return id;
    } catch (e) {
      if (!fs.isNotFound(e)) throw e;
    }
  }
  if (/^[0-9a-f]+$/.test(ref)) {
    const ids = (await listIds(paths)).filter((id) => id.startsWith(ref));
    if (ids.length === 1) return ids[0];
    if (ids.length > 1) throw new ConflictError(`multiple containers match id prefix ${ref}`);
  }
  throw new NotFoundError(`no such container: ${ref}`);
}

/**
 * Claims a container name for an id; the symlink is created atomically, so two hako
 * processes can never both get the same name.
 */
export async function claimName(paths: Paths, name: string, id: string): Promise<void> {
  await fs.mkdir(paths.names);
  try {
    await fs.symlink(id, `${paths.names}/${name}`);
  } catch (e) {
    if (!fs.isExists(e)) throw e;
    const other = await fs.readLink(`${paths.names}/${name}`).catch(() => "");
    if (other && !(await fs.exists(containerDir(paths, other)))) {
      // Left by a container whose removal was interrupted: take it over.
      await fs.remove(`${paths.names}/${name}`);
      return claimName(paths, name, id);
    }
    throw new ConflictError(
      `the container name "/${name}" is already in use by container "${other}"; remove or rename that container to reuse the name`,
    );
  }
}

/** Releases a name if it still points at `id`. */
export async function releaseName(paths: Paths, name: string, id: string): Promise<void> {
  const p = `${paths.names}/${name}`;
  if ((await fs.readLink(p).catch(() => "")) === id) await fs.remove(p);
}

/**
 * Runs `fn` holding the container's lock (flock on a file in the state root). Waits
 * without blocking the event loop.
 */
export async function withLock<T>(paths: Paths, id: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(`${paths.run}/locks`);
  return await withFileLock(`${paths.run}/locks/${id}`, fn);
}

/** Reads /proc/<pid>/stat's start time (field 22), or 0 when the process is gone or a zombie. */
export async function startTicks(pid: number): Promise<number> {
  if (pid <= 0) return 0;
  try {
    const s = await fs.readText(`/proc/${pid}/stat`);
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // A zombie has exited; only its parent has not reaped it yet (init, after a crash).
    if (rest[0] === "Z" || rest[0] === "X") return 0;
    return Number(rest[19]);
  } catch {
    return 0;
  }
}

/** True when the record's process is still the same live process (not a reused pid). */
export async function isAlive(c: Container): Promise<boolean> {
  if (!c.State.Pid) return false;
  const t = await startTicks(c.State.Pid);
  return t !== 0 && t === c.Hako.StartTicks;
}

/** True when a process with this pid exists (kill(pid, 0)). */
function pidExists(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    kill(pid, 0);
    return true;
  } catch (e) {
    return !(e instanceof SysError && e.code === "ESRCH");
  }
}

/**
 * Loads a record and makes it truthful: a container recorded as running whose process is
 * gone (hako killed, host rebooted) is shown exited. When whoever waited for it is gone too,
 * the exit is recorded and its cgroup removed here, so the next hako command cleans up
 * after a crash.
 */
export async function loadRecord(paths: Paths, id: string): Promise<Container> {
  const c = await readRecord(paths, id);
  if (!c) throw new NotFoundError(`no such container: ${id}`);
  if (!c.State.Running || (await isAlive(c))) return c;
  const exited = (r: Container): Container => ({
    ...r,
    State: {
      ...r.State,
      Status: "exited",
      Running: false,
      Pid: 0,
      ExitCode: r.State.ExitCode || 255,
      FinishedAt: r.State.FinishedAt !== "0001-01-01T00:00:00Z"
        ? r.State.FinishedAt
        : new Date().toISOString(),
    },
  });
  if (pidExists(c.Hako.MonitorPid)) return exited(c); // it is about to record the exit
  return await withLock(paths, id, async () => {
    const fresh = await readRecord(paths, id);
    if (!fresh) throw new NotFoundError(`no such container: ${id}`);
    if (!fresh.State.Running || (await isAlive(fresh))) return fresh;
    const done = exited(fresh);
    await writeRecord(paths, done);
    const { openCgroup } = await import("../cgroups/mod.ts");
    await openCgroup(done.Hako.Cgroup).then((g) => g.remove()).catch(() => {});
    // Its address, published ports and NAT rules, left behind by the dead launcher.
    const { releaseContainer } = await import("../net/attach.ts");
    await releaseContainer(paths, done).catch(() => {});
    return done;
  });
}
