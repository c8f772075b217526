/**
 * Running host commands for the bench through hako's own spawn trampoline (ffi/): a
 * CLONE_VM clone and execve, the cheapest way a JavaScript runtime can start a process
 * (Deno.Command and node:child_process add several milliseconds of their own here).
 *
 * A timed child gets its own session (so a timeout can kill its whole process group),
 * /dev/null on stdin, and stdout+stderr in a log file, or in a pipe when the caller waits
 * for a marker line (a VM's /init).
 *
 * @module
 */

import {
  AT_FDCWD,
  close,
  exitCode,
  kill,
  O,
  openat,
  pipe2,
  Plan,
  readAsync,
  SIG,
  spawn,
  SYS,
  sys,
  termSignal,
  wait4,
} from "../ffi/mod.ts";
import { envAll } from "../ffi/host.ts";
import * as fs from "../ffi/fs.ts";

/** How one run of a command ended. */
export interface RunResult {
  /** Milliseconds from just before clone to the moment wait4 reaped the process. */
  ms: number;
  /** Milliseconds from clone until the marker was read from the output, when one was asked for. */
  markerMs?: number;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: number | null;
  /** The bench killed it after the timeout. */
  timedOut: boolean;
  /** The last few KiB of stdout and stderr together. */
  output: string;
}

/** Options of `runCommand`. */
export interface RunOptions {
  /** Kill the command's process group after this many milliseconds (default 120 s). */
  timeoutMs?: number;
  /** Also time the moment this text appears in the output (read through a pipe). */
  marker?: string;
  /** Extra environment variables (the bench's own environment is passed on). */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Text written on stdin (through a file, before the clock starts). */
  stdin?: string;
  /** Inherit the bench's stdin/stdout/stderr and session (no capture, no timeout kill). */
  inherit?: boolean;
  /** Where output goes in file mode (default a file in the bench's scratch directory). */
  logFile?: string;
  /** Return all the output, not just its last 8 KiB (file mode). */
  full?: boolean;
}

const OUTPUT_TAIL = 8192;
let scratch = "/tmp";
let seq = 0;

/** Sets the directory for per-run log files. */
export function setScratch(dir: string): void {
  scratch = dir;
}

/** The full path of `prog` found on PATH (or `prog` itself when it has a slash), or null. */
export async function which(prog: string): Promise<string | null> {
  if (prog.includes("/")) return (await fs.exists(prog)) ? prog : null;
  const path = envAll().PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const st = await fs.stat(`${dir}/${prog}`);
    if (st && !st.isDirectory) return `${dir}/${prog}`;
  }
  return null;
}

/** Quotes an argv for a POSIX shell, the way a reader would paste it. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

function envp(extra: Record<string, string> | undefined): string[] {
  return Object.entries({ ...envAll(), ...extra }).map(([k, v]) => `${k}=${v}`);
}

/**
 * Runs `argv` to its end and times it.
 *
 * @example
 * ```ts
 * const r = await runCommand(["/bin/true"]);
 * r.code; // 0
 * ```
 */
export async function runCommand(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const path = await which(argv[0]);
  if (!path) {
    return { ms: 0, code: 127, signal: null, timedOut: false, output: `${argv[0]}: not found` };
  }
  const p = new Plan();
  const fds: number[] = [];
  let logFile: string | undefined, pipeR = -1;
  try {
    if (!opts.inherit) {
      p.syscall(SYS.setsid, [], "start a new session");
      let stdinFd: number;
      if (opts.stdin !== undefined) {
        const f = `${scratch}/stdin-${process_id()}-${seq++}`;
        await fs.writeFile(f, opts.stdin);
        stdinFd = openat(AT_FDCWD, f, O.RDONLY | O.CLOEXEC);
        await fs.remove(f);
      } else stdinFd = openat(AT_FDCWD, "/dev/null", O.RDWR | O.CLOEXEC);
      fds.push(stdinFd);
      let outFd: number;
      if (opts.marker !== undefined) {
        const [r, w] = pipe2(O.CLOEXEC);
        pipeR = r;
        outFd = w;
      } else {
        logFile = opts.logFile ?? `${scratch}/out-${process_id()}-${seq++}.log`;
        outFd = openat(AT_FDCWD, logFile, O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC, 0o644);
      }
      fds.push(outFd);
      p.syscall(SYS.dup3, [stdinFd, 0, 0], "redirect stdin");
      p.syscall(SYS.dup3, [outFd, 1, 0], "redirect stdout");
      p.syscall(SYS.dup3, [outFd, 2, 0], "redirect stderr");
    }
    if (opts.cwd) p.syscall(SYS.chdir, [p.str(opts.cwd)], `change directory to ${opts.cwd}`);
    p.syscall(
      SYS.execve,
      [p.str(path), p.strings(argv), p.strings(envp(opts.env))],
      `execute ${path}`,
    );

    const t0 = performance.now();
    const { pid } = await spawn(p, { cloneFlags: 0 });
    for (const fd of fds.splice(0)) close(fd);

    let timedOut = false;
    const timer = opts.inherit ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        kill(-pid, SIG.SIGKILL);
      } catch { /* already gone */ }
    }, opts.timeoutMs ?? 120_000);

    let markerMs: number | undefined;
    let piped = "";
    let reader: Promise<void> | undefined;
    if (pipeR >= 0) {
      const fd = pipeR;
      pipeR = -1;
      reader = (async () => {
        const buf = new Uint8Array(4096);
        const dec = new TextDecoder();
        try {
          for (;;) {
            const n = await readAsync(fd, buf);
            if (n <= 0) break;
            piped += dec.decode(buf.subarray(0, n), { stream: true });
            if (markerMs === undefined && piped.includes(opts.marker!)) {
              markerMs = performance.now() - t0;
            }
            if (piped.length > 4 * OUTPUT_TAIL) piped = piped.slice(-2 * OUTPUT_TAIL);
          }
        } finally {
          close(fd);
        }
      })();
    }
    const { status } = await wait4(pid);
    const ms = performance.now() - t0;
    if (timer !== undefined) clearTimeout(timer);
    // A daemonized grandchild may keep the pipe open; the read is left to finish on its own.
    if (reader) await Promise.race([reader, new Promise((r) => setTimeout(r, 200))]);
    let output = piped;
    if (logFile) {
      output = await fs.readText(logFile).catch(() => "");
      if (!opts.logFile) await fs.remove(logFile).catch(() => {});
    }
    return {
      ms,
      markerMs,
      code: exitCode(status),
      signal: termSignal(status),
      timedOut,
      output: opts.full ? output : output.slice(-OUTPUT_TAIL),
    };
  } finally {
    for (const fd of fds) close(fd);
    if (pipeR >= 0) close(pipeR);
  }
}

function process_id(): number {
  return Number(sys(SYS.getpid));
}

/** Runs a setup command; resolves with its output, throws with its output tail on failure. */
export async function sh(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await runCommand(argv, { timeoutMs: 600_000, full: true, ...opts });
  if (r.code !== 0) {
    throw new Error(
      `${shellQuote(argv)} ${
        r.timedOut ? "timed out" : `exited ${r.code ?? `on signal ${r.signal}`}`
      }: ${lastLines(r.output, 4)}`,
    );
  }
  return r.output;
}

/** The last `n` non-empty lines of `text`, joined by " / " (for one-line reasons). */
export function lastLines(text: string, n = 2): string {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).slice(-n).join(" / ").slice(0, 400);
}

/** A background process started by the bench (containerd, dockerd). */
export interface Daemon {
  pid: number;
  /** Sends SIGTERM, waits up to `graceMs`, then kills the process group. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when it has exited (with its wait status). */
  exited: Promise<number>;
}

/** Starts `argv` in its own session with its output appended to `logFile`. */
export async function startDaemon(
  argv: string[],
  logFile: string,
  env?: Record<string, string>,
): Promise<Daemon> {
  const path = await which(argv[0]);
  if (!path) throw new Error(`${argv[0]}: not found`);
  const p = new Plan();
  const nul = openat(AT_FDCWD, "/dev/null", O.RDWR | O.CLOEXEC);
  const log = openat(AT_FDCWD, logFile, O.WRONLY | O.CREAT | O.APPEND | O.CLOEXEC, 0o644);
  let pid: number;
  try {
    p.syscall(SYS.setsid, [], "start a new session");
    p.syscall(SYS.dup3, [nul, 0, 0], "redirect stdin");
    p.syscall(SYS.dup3, [log, 1, 0], "redirect stdout");
    p.syscall(SYS.dup3, [log, 2, 0], "redirect stderr");
    p.syscall(SYS.execve, [p.str(path), p.strings(argv), p.strings(envp(env))], `execute ${path}`);
    pid = (await spawn(p, { cloneFlags: 0 })).pid;
  } finally {
    close(nul);
    close(log);
  }
  let done = false;
  const exited = wait4(pid).then((w) => {
    done = true;
    return w.status;
  });
  return {
    pid,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return;
      signal(pid, SIG.SIGTERM);
      const t = setTimeout(() => signal(-pid, SIG.SIGKILL), graceMs);
      await exited;
      clearTimeout(t);
      // Whatever is left of its session (shims it forked) goes too.
      signal(-pid, SIG.SIGKILL);
    },
  };
}

function signal(pid: number, sig: number): void {
  try {
    kill(pid, sig);
  } catch (e) {
    if (!(e instanceof Error && /ESRCH/.test(e.message))) throw e;
  }
}
