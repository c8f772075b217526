/**
 * Acting on containers that exist: start, stop, kill, wait, rm, and listing. Each works
 * from any hako process (the CLI, the API, a second terminal): state lives in the record,
 * and a process is identified by pid plus start time so a reused pid is never signalled.
 */

import { kill as killPid } from "../../ffi/mod.ts";
import { openCgroup } from "../cgroups/mod.ts";
import { ConflictError, UsageError } from "../errors.ts";
import { parseSignal } from "../runtime/linux.ts";
import { removeFiles } from "./launch.ts";
import type { Paths } from "./paths.ts";
import {
  type Container,
  findId,
  isAlive,
  listIds,
  loadRecord,
  readRecord,
  withLock,
  writeRecord,
} from "./record.ts";
import { startDetached } from "./run.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves a name/id and loads its (truthful) record. */
export async function getContainer(paths: Paths, ref: string): Promise<Container> {
  return await loadRecord(paths, await findId(paths, ref));
}

/** Every container, newest first. */
export async function listContainers(paths: Paths, all: boolean): Promise<Container[]> {
  const out: Container[] = [];
  for (const id of await listIds(paths)) {
    const c = await loadRecord(paths, id).catch(() => null);
    if (c && (all || c.State.Running)) out.push(c);
  }
  return out.sort((a, b) => b.Created.localeCompare(a.Created));
}

async function markStopped(paths: Paths, id: string) {
  await withLock(paths, id, async () => {
    const r = await readRecord(paths, id);
    if (r) {
      r.Hako.StoppedByUser = true;
      await writeRecord(paths, r);
    }
  });
}

/** Waits until the container is no longer running; false on timeout. */
async function waitDead(paths: Paths, id: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let d = 2; Date.now() < end; d = Math.min(d * 2, 50)) {
    const c = await readRecord(paths, id);
    if (!c || !(await isAlive(c))) return true;
    await sleep(d);
  }
  return false;
}

/** Waits for the monitor (if any) to record the exit, else records it here. */
async function settle(paths: Paths, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const c = await readRecord(paths, id);
    if (!c || !c.State.Running) return;
    const monitorAlive = c.Hako.MonitorPid > 0 && await pidExists(c.Hako.MonitorPid);
    if (!monitorAlive) break;
    await sleep(20);
  }
  await withLock(paths, id, async () => {
    const c = await loadRecord(paths, id).catch(() => null);
    if (c && (await readRecord(paths, id))?.State.Running) await writeRecord(paths, c);
  });
  const c = await readRecord(paths, id);
  if (c) await openCgroup(c.Hako.Cgroup).then((g) => g.remove()).catch(() => {});
}

function pidExists(pid: number): boolean {
  try {
    killPid(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `docker start`: starts a created or exited container detached. */
export async function startContainer(paths: Paths, ref: string): Promise<Container> {
  const id = await findId(paths, ref);
  const c = await loadRecord(paths, id);
  if (c.State.Running) return c;
  await withLock(paths, id, async () => {
    const r = await readRecord(paths, id);
    if (r) {
      r.Hako.StoppedByUser = false;
      await writeRecord(paths, r);
    }
  });
  await startDetached(paths, id);
  return await loadRecord(paths, id);
}

/** `docker stop`: the stop signal, then SIGKILL after `timeout` seconds. */
export async function stopContainer(paths: Paths, ref: string, timeout = 10): Promise<Container> {
  const id = await findId(paths, ref);
  const c = await loadRecord(paths, id);
  if (!c.State.Running) return c;
  await markStopped(paths, id);
  const sig = parseSignal(c.Config.StopSignal ?? "SIGTERM") ?? 15;
  try {
    killPid(c.State.Pid, sig);
  } catch { /* already gone */ }
  if (!(await waitDead(paths, id, timeout * 1000))) {
    try {
      killPid(c.State.Pid, 9);
    } catch { /* already gone */ }
    await waitDead(paths, id, 10_000);
  }
  await settle(paths, id);
  return await loadRecord(paths, id);
}

/** `docker kill -s SIG`. */
export async function killContainer(
  paths: Paths,
  ref: string,
  signal = "KILL",
): Promise<Container> {
  const sig = parseSignal(signal);
  if (sig === null) throw new UsageError(`invalid signal: ${signal}`);
  const id = await findId(paths, ref);
  const c = await loadRecord(paths, id);
  if (!c.State.Running) {
    throw new ConflictError(`cannot kill container ${ref}: container ${id} is not running`);
  }
  if (sig === 9 || sig === 15) await markStopped(paths, id);
  killPid(c.State.Pid, sig);
  if (sig === 9) {
    await waitDead(paths, id, 10_000);
    await settle(paths, id);
  }
  return c;
}

/** `docker wait`: resolves with the exit code once the container has stopped. */
export async function waitContainer(paths: Paths, ref: string): Promise<number> {
  const id = await findId(paths, ref);
  for (let d = 5;; d = Math.min(d * 2, 100)) {
    const c = await loadRecord(paths, id).catch(() => null);
    if (!c) return 0;
    if (!c.State.Running && !c.State.Restarting) {
      if (c.Hako.MonitorPid && c.State.Status === "running") continue;
      return c.State.ExitCode;
    }
    await sleep(d);
  }
}

/** `docker rm [-f]`. */
export async function removeContainer(paths: Paths, ref: string, force = false): Promise<string> {
  const id = await findId(paths, ref);
  const c = await loadRecord(paths, id);
  if (c.State.Running) {
    if (!force) {
      throw new ConflictError(
        `cannot remove container "${
          c.Name.slice(1)
        }": container is running: stop the container before removing or force remove`,
      );
    }
    await markStopped(paths, id);
    try {
      killPid(c.State.Pid, 9);
    } catch { /* gone */ }
    await waitDead(paths, id, 10_000);
    await settle(paths, id);
  }
  await openCgroup(c.Hako.Cgroup).then((g) => g.remove()).catch(() => {});
  const r = (await readRecord(paths, id)) ?? c;
  await removeFiles(paths, r);
  return id;
}

/** Image ids used by any container (for rmi). */
export async function imagesInUse(paths: Paths): Promise<Map<string, string>> {
  const used = new Map<string, string>();
  for (const id of await listIds(paths)) {
    const c = await readRecord(paths, id);
    if (c) used.set(c.Image, c.Id);
  }
  return used;
}
