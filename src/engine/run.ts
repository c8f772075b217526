/**
 * Running a container: in the foreground (hako itself waits and forwards signals), or
 * detached under a monitor — a copy of hako started in its own session that outlives the
 * command, captures stdout/stderr into the json-file log, records the exit code and applies
 * the restart policy and --rm.
 */

import {
  AT_FDCWD,
  close,
  dup3,
  E,
  kill,
  O,
  O_CLOEXEC,
  openat,
  pipe2,
  Plan,
  readAsync,
  spawn,
  SYS,
  wait4,
  write,
} from "../../ffi/mod.ts";
import { envAll, onSignal, pid as selfPid, selfArgv, type SignalName } from "../../ffi/host.ts";
import { HakoError } from "../errors.ts";
import type { StartOptions } from "../runtime/create.ts";
import { ConsoleSocket, getWinsize, RawTerminal, setWinsize } from "../runtime/tty.ts";
import { startSession } from "./terminal.ts";
import { AttachServer } from "./attach.ts";
import { finish, launch, logLine, removeFiles, statusCode } from "./launch.ts";
import type { Paths } from "./paths.ts";
import { mark } from "../trace.ts";
import { type Container, loadRecord, readRecord } from "./record.ts";

const FORWARDED: [SignalName, number][] = [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
  [
    "SIGQUIT",
    3,
  ],
  ["SIGUSR1", 10],
  ["SIGUSR2", 12],
];

/**
 * Runs a created container attached to hako's own stdin/stdout/stderr and returns its
 * exit code (128+N when killed by signal N). Signals sent to hako go to the container.
 */
export async function runForeground(paths: Paths, c: Container): Promise<number> {
  let target = 0;
  // A signal that arrives while the container is still being set up is delivered as soon
  // as it exists, so a quick Ctrl-C or `kill` is never lost.
  const pending: number[] = [];
  const deliver = (num: number) => {
    try {
      kill(target, num);
    } catch { /* already gone */ }
  };
  const off = FORWARDED.map(([name, num]) =>
    onSignal(name, () => target ? deliver(num) : pending.push(num))
  );
  const io = foregroundIo(c);
  try {
    const l = await launch(paths, c, io, selfPid);
    target = l.pid;
    for (const num of pending.splice(0)) deliver(num);
    const session = io.openSession?.();
    const { status } = await wait4(l.pid);
    target = 0;
    await session?.end();
    await io.close();
    const r = await finish(paths, c.Id, l, status);
    mark("finish");
    if (c.HostConfig.AutoRemove && r) await removeFiles(paths, r);
    mark("rm");
    return statusCode(status);
  } catch (e) {
    if (c.HostConfig.AutoRemove) {
      const r = await readRecord(paths, c.Id);
      if (r) await removeFiles(paths, r);
    }
    throw e;
  } finally {
    await io.close();
    for (const f of off) f();
  }
}

/**
 * The container's stdio for a foreground run: with -t a pty opened in the container (and
 * the host terminal raw while -i copies keys to it), else hako's own stdio with stdin on
 * /dev/null unless -i.
 */
function foregroundIo(c: Container) {
  let raw: RawTerminal | null = null, cs: ConsoleSocket | undefined, devnull = -1;
  const io: Pick<StartOptions, "stdio" | "console"> & {
    openSession?: () => { end(): Promise<void> };
    close(): Promise<void>;
  } = {
    async close() {
      cs?.close();
      if (devnull >= 0) close(devnull), devnull = -1;
      await raw?.restore();
    },
  };
  if (c.Config.Tty) {
    if (c.Config.OpenStdin) raw = RawTerminal.enter(0);
    cs = new ConsoleSocket();
    io.console = cs.input(getWinsize(0) ?? getWinsize(1) ?? undefined);
    io.openSession = () => {
      const master = cs!.receive();
      cs!.close();
      const s = startSession({
        peer: master,
        input: raw ? 0 : undefined,
        output: 1,
        onResize: (ws) => setWinsize(master, ws),
      });
      return {
        async end() {
          s.stop();
          await s.done;
          close(master);
        },
      };
    };
  } else if (!c.Config.OpenStdin) {
    devnull = openat(AT_FDCWD, "/dev/null", O.RDONLY | O.CLOEXEC);
    io.stdio = [devnull, -1, -1];
  }
  return io;
}

/**
 * Starts the monitor for a created (or exited) container and resolves once the container
 * has exec'd; rejects with the reason it could not start.
 */
export async function startDetached(paths: Paths, id: string): Promise<void> {
  const argv = [...selfArgv(), "--root", paths.root, "__monitor", id];
  const [r, w] = pipe2(O_CLOEXEC);
  const p = new Plan();
  p.syscall(SYS.setsid, [], "start a new session", { ignore: E.EPERM });
  const nul = p.slot();
  p.syscall(SYS.openat, [AT_FDCWD, p.str("/dev/null"), O.RDWR, 0], "open /dev/null", {
    store: nul,
  });
  for (let i = 0; i < 3; i++) {
    p.syscall(SYS.dup3, [0, i, 0], `/dev/null as fd ${i}`, { fromSlot: { 0: nul } });
  }
  p.syscall(SYS.dup3, [w, 3, 0], "ready pipe as fd 3");
  const env = Object.entries({ ...envAll(), HAKO_STATE: paths.run }).map(([k, v]) => `${k}=${v}`);
  p.syscall(SYS.execve, [p.str(argv[0]), p.strings(argv), p.strings(env)], `exec ${argv[0]}`);
  let monitor: number;
  try {
    ({ pid: monitor } = await spawn(p, { cloneFlags: 0 }));
  } finally {
    close(w);
  }
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await readAsync(r, buf);
      if (n <= 0) break;
      chunks.push(...buf.subarray(0, n));
    }
  } finally {
    close(r);
  }
  const msg = new TextDecoder().decode(new Uint8Array(chunks)).trim();
  if (msg === "ok") {
    // Reap the monitor later if it ends while we still run; it normally outlives us.
    wait4(monitor).catch(() => {});
    return;
  }
  await wait4(monitor).catch(() => {});
  const m = /^(\d+) (.*)$/s.exec(msg);
  const err = new HakoError(
    m ? m[2] : msg || "the container monitor exited before the container started",
  );
  if (m) err.exitCode = Number(m[1]);
  throw err;
}

/** The monitor process (`hako __monitor ID`): see the module comment. */
export async function monitor(paths: Paths, id: string): Promise<number> {
  let c = await loadRecord(paths, id);
  const logFd = openat(AT_FDCWD, c.LogPath, O.WRONLY | O.APPEND | O.CREAT | O.CLOEXEC, 0o640);
  const devnull = openat(AT_FDCWD, "/dev/null", O.RDONLY | O.CLOEXEC);
  const [outR, outW] = pipe2(O_CLOEXEC);
  const [errR, errW] = pipe2(O_CLOEXEC);
  const logger = (stream: "stdout" | "stderr") => {
    const dec = new TextDecoder();
    let pending = "";
    return (chunk: Uint8Array | null) => {
      if (chunk === null) {
        if (pending) write(logFd, logLine(stream, pending));
        pending = "";
        return;
      }
      pending += dec.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      if (lines.length) write(logFd, lines.map((l) => logLine(stream, l + "\n")).join(""));
    };
  };
  // Clients of `hako attach` (attach.ts): they get the output and give the input.
  let server: AttachServer;
  try {
    server = await AttachServer.open(paths, id);
  } catch (e) {
    write(3, `125 ${(e as Error).message}`);
    close(3);
    return 1;
  }
  const pump = async (fd: number, stream: "stdout" | "stderr") => {
    const buf = new Uint8Array(65536);
    const log = logger(stream);
    for (;;) {
      const n = await readAsync(fd, buf).catch(() => 0);
      if (n <= 0) break;
      log(buf.subarray(0, n));
      server.broadcast(stream === "stdout" ? 1 : 2, buf.slice(0, n));
    }
    log(null);
  };
  const pumps = [pump(outR, "stdout"), pump(errR, "stderr")];
  let ready = true;
  let code = 0;
  for (let attempt = 0;; attempt++) {
    let l;
    // -t: a pty opened in the container, its master served to attach; -i: a stdin pipe.
    const cs = c.Config.Tty ? new ConsoleSocket() : undefined;
    let stdin = devnull;
    if (!cs && c.Config.OpenStdin) {
      const [r, w] = pipe2(O_CLOEXEC);
      stdin = r;
      server.setStdin(w);
    }
    try {
      l = await launch(
        paths,
        c,
        cs ? { console: cs.input(server.winsize) } : { stdio: [stdin, outW, errW] },
        selfPid,
      );
      if (cs) server.setPty(cs.receive(), logger("stdout"));
    } catch (e) {
      if (ready) {
        const ex = (e as HakoError).exitCode ?? 125;
        write(3, `${ex} ${(e as Error).message}`);
        close(3);
      }
      await server.close();
      return 1;
    } finally {
      cs?.close();
      if (stdin !== devnull) close(stdin);
    }
    if (ready) {
      write(3, "ok");
      close(3);
      ready = false;
    }
    const { status } = await wait4(l.pid);
    code = statusCode(status);
    server.endPty();
    const r = await finish(paths, id, l, status);
    server.dropClients();
    if (!r) break;
    c = r;
    const p = r.HostConfig.RestartPolicy;
    const again = !r.Hako.StoppedByUser && (p.Name === "always" || p.Name === "unless-stopped" ||
      (p.Name === "on-failure" && code !== 0 &&
        (p.MaximumRetryCount === 0 || r.RestartCount < p.MaximumRetryCount)));
    if (!again) break;
    await new Promise((res) => setTimeout(res, Math.min(100 * 2 ** attempt, 10_000)));
    const fresh = await readRecord(paths, id);
    if (!fresh || fresh.Hako.StoppedByUser) break;
    fresh.RestartCount++;
    c = fresh;
    const { writeRecord } = await import("./record.ts");
    await writeRecord(paths, fresh);
  }
  close(outW);
  close(errW);
  // Output still buffered in the pipes is logged; a background process that keeps the pipe
  // open must not keep the monitor alive, so this waits only briefly.
  await Promise.race([Promise.all(pumps), new Promise((r) => setTimeout(r, 500))]);
  await server.close();
  close(logFd);
  if (c.HostConfig.AutoRemove) {
    const r = await readRecord(paths, id);
    if (r) await removeFiles(paths, r);
  }
  void dup3;
  return code;
}
