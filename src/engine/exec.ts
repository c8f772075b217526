/**
 * `exec`: a new process in a running container, with the container's namespaces, cgroup,
 * capabilities, no_new_privs and environment, as `docker exec` gives. Names (`-u app`) are
 * looked up in the container's own /etc/passwd through /proc/<pid>/root, which is its live
 * root filesystem (upper layer included).
 */

import {
  addr,
  AT_FDCWD,
  close,
  cstr,
  kill,
  O,
  openat,
  spawn,
  SYS,
  sys,
  SysError,
  wait4,
} from "../../ffi/mod.ts";
import { env as hostEnv, onSignal, type SignalName } from "../../ffi/host.ts";
import { openCgroup } from "../cgroups/mod.ts";
import { CommandError, ConflictError, UsageError } from "../errors.ts";
import { loadSpec } from "../runtime/create.ts";
import { buildExecPlan, EXEC_NS_ORDER, execCandidates, type JoinNs } from "../runtime/exec_plan.ts";
import { NS_FILE } from "../runtime/linux.ts";
import type { Process } from "../runtime/spec.ts";
import { ConsoleSocket, getWinsize, RawTerminal, setWinsize } from "../runtime/tty.ts";
import { statusCode } from "./launch.ts";
import type { Paths } from "./paths.ts";
import { type Container, containerDir, findId, loadRecord } from "./record.ts";
import { startSession } from "./terminal.ts";
import { mark } from "../trace.ts";
import { resolveUser } from "./user.ts";

/** `docker exec` options. */
export interface ExecOptions {
  /** Command and arguments. */
  cmd: string[];
  /** KEY=VALUE (or KEY: taken from hako's environment). */
  env?: string[];
  /** name|uid[:group|gid], resolved in the container. */
  user?: string;
  /** Absolute working directory in the container. */
  workdir?: string;
  /** Allocate a pty. */
  tty?: boolean;
  /** Keep stdin open (copy hako's stdin to the process). */
  interactive?: boolean;
  /** Start and return at once (exit code 0); output is discarded. */
  detach?: boolean;
  /** All capabilities. */
  privileged?: boolean;
}

const FORWARDED: [SignalName, number][] = [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
  ["SIGQUIT", 3],
  ["SIGUSR1", 10],
  ["SIGUSR2", 12],
];

/** Where a running container is: its record and the pid of its init. */
async function running(paths: Paths, ref: string): Promise<Container> {
  const c = await loadRecord(paths, await findId(paths, ref));
  if (!c.State.Running || !c.State.Pid) {
    throw new ConflictError(`container ${ref} is not running`);
  }
  return c;
}

/** The identity of a namespace file ("net:[4026531840]"), or null; synchronous readlink. */
function nsId(path: string): string | null {
  const b = new Uint8Array(64);
  const r = sys(SYS.readlinkat, AT_FDCWD, addr(cstr(path)), addr(b), b.length);
  return r < 0n ? null : new TextDecoder().decode(b.subarray(0, Number(r)));
}

/** Opens the namespaces of `pid` that differ from hako's own. */
function openNamespaces(pid: number, fds: number[]): JoinNs[] {
  const out: JoinNs[] = [];
  for (const type of EXEC_NS_ORDER) {
    const file = NS_FILE[type];
    const theirs = nsId(`/proc/${pid}/ns/${file}`);
    if (theirs === null || theirs === nsId(`/proc/self/ns/${file}`)) continue;
    const fd = openat(AT_FDCWD, `/proc/${pid}/ns/${file}`, O.RDONLY | O.CLOEXEC);
    fds.push(fd);
    out.push({ type, fd });
  }
  return out;
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const e of base) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1));
  }
  for (const e of extra) {
    const i = e.indexOf("=");
    if (i < 0) {
      const v = hostEnv(e);
      if (v !== undefined) m.set(e, v);
    } else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return [...m].map(([k, v]) => `${k}=${v}`);
}

/** The exec'd process as the container would run it, with the exec's overrides. */
async function execProcess(base: Process, pid: number, o: ExecOptions) {
  const root = `/proc/${pid}/root`;
  let user = base.user;
  let env = [...(base.env ?? [])];
  if (o.user !== undefined && o.user !== "") {
    const u = await resolveUser([root], o.user);
    user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids, umask: base.user.umask };
    // HOME follows the user, unless it was set on purpose (it differs from the home of the
    // container's own user, which is where create put it).
    const home = env.find((e) => e.startsWith("HOME="))?.slice(5);
    const own = await resolveUser([root], String(base.user.uid)).catch(() => null);
    if (home === undefined || home === own?.home) env = mergeEnv(env, [`HOME=${u.home}`]);
  }
  env = mergeEnv(env, o.env ?? []);
  if (o.tty && !env.some((e) => e.startsWith("TERM="))) env.push("TERM=xterm");
  const cwd = o.workdir || base.cwd || "/";
  if (!cwd.startsWith("/")) {
    throw new UsageError(
      `the working directory '${cwd}' is invalid: it needs to be an absolute path`,
    );
  }
  // "All" is all that hako itself holds, as for run --privileged.
  // (create.ts is loaded only then: it brings the image store with it.)
  const all = o.privileged ? [...(await (await import("./create.ts")).heldCapabilities())] : [];
  const capabilities = o.privileged
    ? { bounding: all, effective: all, permitted: all }
    : base.capabilities;
  const proc: Process = { ...base, args: o.cmd, env, cwd, user, capabilities, terminal: !!o.tty };
  return proc;
}

/** Maps a failing plan step to the error `docker exec` gives. */
function execError(e: unknown, cmd: string): unknown {
  if (!(e instanceof SysError)) return e;
  if (e.what.startsWith("exec ")) {
    if (e.code === "ENOENT") {
      const msg = cmd.includes("/")
        ? `exec: "${cmd}": stat ${cmd}: no such file or directory`
        : `exec: "${cmd}": executable file not found in $PATH`;
      return new CommandError(msg, 127, { cause: e });
    }
    if (e.code === "EACCES") {
      return new CommandError(`exec: "${cmd}": permission denied`, 126, { cause: e });
    }
    return new CommandError(`exec: "${cmd}": ${e.message}`, 126, { cause: e });
  }
  if (e.what.startsWith("chdir to ")) {
    return new CommandError(`${e.what} in the container: ${e.code}`, 126, { cause: e });
  }
  return e;
}

/**
 * Runs `o.cmd` in the running container `ref` and resolves with its exit code (128+N when
 * killed by signal N; 0 at once with `detach`).
 *
 * @example
 * ```ts
 * await execInContainer(paths, "web", { cmd: ["sh", "-c", "exit 3"] }); // 3
 * ```
 */
export async function execInContainer(paths: Paths, ref: string, o: ExecOptions): Promise<number> {
  if (!o.cmd.length) throw new UsageError("exec: no command given");
  const c = await running(paths, ref);
  mark("record");
  const initPid = c.State.Pid;
  const spec = await loadSpec(containerDir(paths, c.Id));
  mark("spec");
  const proc = await execProcess(spec.process!, initPid, o);
  mark("process");
  const path = proc.env?.find((e) => e.startsWith("PATH="))?.slice(5);

  const fds: number[] = [];
  let raw: RawTerminal | null = null, cs: ConsoleSocket | undefined;
  let target = 0;
  const off = o.detach ? [] : FORWARDED.map(([name, num]) =>
    onSignal(name, () => {
      if (target) {
        try {
          kill(target, num);
        } catch { /* already gone */ }
      }
    })
  );
  try {
    // Raw mode first: its guard process keeps copies of the fds hako has open by then.
    if (o.tty && !o.detach) {
      if (o.interactive) raw = RawTerminal.enter(0);
      cs = new ConsoleSocket();
    }
    const namespaces = openNamespaces(initPid, fds);
    mark("namespaces");
    const cgroupProcsFds = (await openCgroup(c.Hako.Cgroup).then((g) => g.procsFiles()).catch(
      () => [] as string[],
    )).map((f) => {
      const fd = openat(AT_FDCWD, f, O.WRONLY | O.CLOEXEC);
      fds.push(fd);
      return fd;
    });
    mark("cgroup");
    let stdio: [number, number, number] | undefined;
    if (o.detach || !o.interactive) {
      const nul = openat(AT_FDCWD, "/dev/null", O.RDWR | O.CLOEXEC);
      fds.push(nul);
      stdio = o.detach ? [nul, nul, nul] : [nul, -1, -1];
    }
    // Joining a user (or time) namespace needs a process that shares no memory (setns(2)).
    const shareMemory = !namespaces.some((n) => n.type === "user");
    let spawned;
    try {
      // The plan joins the PID namespace with setns + one more fork (CLONE_PARENT). Joining
      // it from hako's own thread around the clone would save that fork of the engine's
      // address space, but Bun and Deno may start a thread in between, which the kernel
      // then refuses (clone3 CLONE_THREAD: EINVAL, the runtime aborts): that needs the
      // native trampoline to do it.
      spawned = await spawn(
        buildExecPlan({
          process: proc,
          namespaces,
          cgroupProcsFds,
          execPaths: execCandidates(o.cmd[0], path),
          stdio: cs ? undefined : stdio,
          console: cs?.input(getWinsize(0) ?? getWinsize(1) ?? undefined),
        }),
        { cloneFlags: 0, shareMemory },
      );
    } catch (e) {
      throw execError(e, o.cmd[0]);
    } finally {
      for (const fd of fds.splice(0)) close(fd);
    }
    target = spawned.forkedPid ?? spawned.pid;
    mark("clone+exec");
    if (o.detach) {
      // The process lives on; it is reaped by whoever inherits it once hako exits.
      return 0;
    }
    let session;
    if (cs) {
      const master = cs.receive();
      cs.close();
      const s = startSession({
        peer: master,
        input: raw ? 0 : undefined,
        output: 1,
        onResize: (ws) => setWinsize(master, ws),
      });
      session = {
        async end() {
          s.stop();
          await s.done;
          close(master);
        },
      };
    }
    const { status } = await wait4(target);
    mark("wait");
    target = 0;
    await session?.end();
    return statusCode(status);
  } finally {
    for (const fd of fds) close(fd);
    cs?.close();
    await raw?.restore();
    for (const f of off) f();
  }
}
