/**
 * Starting a created container and recording how it ended. Used by the foreground `run`
 * (hako waits itself) and by the monitor that `run -d` / `start` leave behind.
 */

import { exitCode, termSignal } from "../../ffi/mod.ts";
import * as fs from "../../ffi/fs.ts";
import { type CgroupManager, createCgroup, openCgroup } from "../cgroups/mod.ts";
import { ALL_DEVICES } from "../cgroups/mod.ts";
import { loadSpec, startBundle, type StartOptions } from "../runtime/create.ts";
import type { Paths } from "./paths.ts";
import { mark } from "../trace.ts";
import type { Attachment } from "../net/attach.ts";
import {
  type Container,
  containerDir,
  readRecord,
  startTicks,
  withLock,
  writeRecord,
} from "./record.ts";

/** A running container as its launcher holds it. */
export interface Launched {
  pid: number;
  cgroup: CgroupManager;
  /** Its network attachment (bridge and user networks, container:NAME), torn down at exit. */
  net?: Attachment | null;
}

/** The network code is loaded only for containers that have a network to set up. */
async function attach(paths: Paths, c: Container): Promise<Attachment | null> {
  const m = c.HostConfig.NetworkMode;
  if (m === "none" || m === "host") return null;
  return await (await import("../net/attach.ts")).attachNetwork(paths, c);
}

/** Creates the cgroup, starts the bundle and records the container as running. */
export async function launch(
  paths: Paths,
  c: Container,
  io: Pick<StartOptions, "stdio" | "console">,
  monitorPid: number,
): Promise<Launched> {
  const dir = containerDir(paths, c.Id);
  const spec = await loadSpec(dir);
  mark("spec");
  const limits = c.Hako.Limits;
  const cgroup = await createCgroup(c.Hako.Cgroup, undefined, {
    limits,
    devices: c.HostConfig.Privileged ? ALL_DEVICES : undefined,
  });
  mark("cgroup");
  let pid: number;
  let net: Attachment | null = null;
  try {
    net = await attach(paths, c);
    mark("net");
    ({ pid } = await startBundle(dir, spec, {
      ...io,
      cgroupProcs: cgroup.procsFiles(),
      hook: net?.hook,
      joinNamespaces: net?.join ? [net.join] : undefined,
    }));
  } catch (e) {
    await net?.teardown().catch(() => {});
    await cgroup.remove().catch(() => {});
    await withLock(paths, c.Id, async () => {
      const r = await readRecord(paths, c.Id);
      if (!r) return;
      r.State = {
        ...r.State,
        Status: r.State.StartedAt.startsWith("0001") ? "created" : "exited",
        Running: false,
        Pid: 0,
        Error: (e as Error).message,
        ExitCode: (e as { exitCode?: number }).exitCode ?? 128,
      };
      await writeRecord(paths, r);
    });
    throw e;
  }
  mark("clone+exec");
  const ticks = await startTicks(pid);
  await withLock(paths, c.Id, async () => {
    const r = (await readRecord(paths, c.Id)) ?? c;
    r.State = {
      ...r.State,
      Status: "running",
      Running: true,
      Restarting: false,
      OOMKilled: false,
      Pid: pid,
      ExitCode: 0,
      Error: "",
      StartedAt: new Date().toISOString(),
      FinishedAt: "0001-01-01T00:00:00Z",
    };
    r.Hako = { ...r.Hako, StartTicks: ticks, MonitorPid: monitorPid, StoppedByUser: false };
    if (net) r.NetworkSettings = net.settings();
    await writeRecord(paths, r);
    Object.assign(c, r);
  });
  mark("record");
  return { pid, cgroup, net };
}

/** Docker's exit code for a wait status: the code, or 128 + the signal. */
export function statusCode(status: number): number {
  const code = exitCode(status);
  if (code !== null) return code;
  return 128 + (termSignal(status) ?? 0);
}

/** Records the exit, removes the cgroup, and returns the updated record. */
export async function finish(
  paths: Paths,
  id: string,
  l: Launched,
  status: number,
): Promise<Container | null> {
  mark("wait");
  let oom = false;
  try {
    oom = (await l.cgroup.stats()).memory.oomKills > 0;
  } catch { /* stats are best effort */ }
  await l.cgroup.remove().catch(() => {});
  mark("cgroup-rm");
  await l.net?.teardown().catch(() => {});
  mark("net-down");
  return await withLock(paths, id, async () => {
    const r = await readRecord(paths, id);
    if (!r) return null;
    r.State = {
      ...r.State,
      Status: "exited",
      Running: false,
      Pid: 0,
      ExitCode: statusCode(status),
      OOMKilled: oom,
      FinishedAt: new Date().toISOString(),
    };
    if (l.net) {
      const { stoppedSettings } = await import("../net/attach.ts");
      r.NetworkSettings = stoppedSettings(r.NetworkSettings);
    }
    await writeRecord(paths, r);
    return r;
  });
}

/** Removes a cgroup left by a container whose launcher died. */
export async function removeStaleCgroup(name: string): Promise<void> {
  try {
    await (await openCgroup(name)).remove();
  } catch { /* none left */ }
}

/** Appends one json-file log line (Docker's format) for a chunk of output. */
export function logLine(stream: "stdout" | "stderr", text: string): string {
  return JSON.stringify({ log: text, stream, time: new Date().toISOString() }) + "\n";
}

/** Removes a container's files and name (the caller holds no lock on it any more). */
export async function removeFiles(paths: Paths, c: Container): Promise<void> {
  await fs.remove(containerDir(paths, c.Id), { recursive: true });
  await fs.remove(`${paths.run}/locks/${c.Id}`);
  const name = c.Name.replace(/^\//, "");
  const link = `${paths.names}/${name}`;
  if ((await fs.readLink(link).catch(() => "")) === c.Id) await fs.remove(link);
}
