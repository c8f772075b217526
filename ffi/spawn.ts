/**
 * Starting a plan: clone in native code, run the plan's steps in the child, and learn from
 * the close-on-exec report pipe whether it reached execve (EOF) or which step failed.
 *
 * @module
 */

import { check, SysError } from "./errno.ts";
import type { Plan } from "./plan.ts";
import { addr, SYS, sys } from "./sys.ts";
import { spawnPlan } from "./trampoline.ts";
import { O_CLOEXEC, pipe2, readAsync } from "./unistd.ts";
import { wait4 } from "./wait.ts";

/** Options of `spawn` and `start`. */
export interface SpawnOptions {
  /** clone(2) flags (SIGCHLD is added). */
  cloneFlags: bigint | number;
  /** A cgroup v2 directory fd to start the child in (clone3 CLONE_INTO_CGROUP). */
  cgroupFd?: number;
  /**
   * Let the child share hako's memory until execve (CLONE_VM on a stack of its own) instead
   * of copying the engine's page tables; default true. Ignored with `cgroupFd`.
   */
  shareMemory?: boolean;
}

/** The outcome of a plan that reached execve (or its last step). */
export interface Spawned {
  /** The cloned child. When `forkedPid` is set it has already exited and been reaped. */
  pid: number;
  /** The process made by the plan's last FORK step (hako's child with CLONE_PARENT). */
  forkedPid?: number;
}

/** A started child whose plan may still be running. */
export interface Started {
  pid: number;
  /** Read end of the report pipe (owned by `report`, closed when it settles). */
  reportFd: number;
  /** Resolves at EOF on the report pipe; rejects with the failing step's SysError. */
  report(): Promise<Spawned>;
}

const FORK_RECORD = 0xffffffff;
const STACK_SIZE = 64 * 1024;
// Plans (header, strings, child stack) a child may still read, until its report closes.
const live = new Set<unknown>();

/**
 * Clones and starts the plan, returning at once so the caller can act between clone and
 * execve (write uid_map, then release the child through a pipe its plan reads).
 */
export function start(plan: Plan, opts: SpawnOptions): Started {
  const [r, w] = pipe2(O_CLOEXEC);
  let stack: Uint8Array | undefined, top = 0n;
  if (opts.shareMemory !== false && opts.cgroupFd === undefined) {
    stack = new Uint8Array(new ArrayBuffer(STACK_SIZE));
    top = (addr(stack) + BigInt(STACK_SIZE)) & ~15n;
  }
  const buf = plan.encode(opts.cloneFlags, opts.cgroupFd ?? -1, w, top);
  let pid: bigint;
  try {
    pid = spawnPlan(addr(buf));
  } finally {
    sys(SYS.close, w);
  }
  if (pid < 0n) sys(SYS.close, r);
  check(pid, opts.cgroupFd === undefined ? "clone" : "clone3 into a cgroup");
  const child = Number(pid);
  // The plan, its strings and the stack must outlive the child's use of them: the
  // report promise holds them until the pipe closes (execve or exit).
  const held = [buf, stack, plan];
  live.add(held);
  let done: Promise<Spawned> | undefined;
  const report = () => done ??= readReport(plan, child, r).finally(() => live.delete(held));
  return { pid: child, reportFd: r, report };
}

/**
 * Clones, runs the plan in the child and resolves once it has exec'd (report pipe EOF),
 * without blocking the event loop. On a failing step the child is reaped and the step's
 * SysError thrown, e.g. "mount proc on /proc: EPERM (Operation not permitted)".
 *
 * @example
 * ```ts
 * const p = new Plan();
 * const sh = p.str("/bin/sh");
 * p.syscall(SYS.execve, [sh, p.strings(["sh", "-c", "exit 7"]), p.pointers([])], "run sh");
 * const { pid } = await spawn(p, { cloneFlags: 0 });
 * exitCode((await wait4(pid)).status); // 7
 * ```
 */
export function spawn(plan: Plan, opts: SpawnOptions): Promise<Spawned> {
  return start(plan, opts).report();
}

async function readReport(plan: Plan, pid: number, fd: number): Promise<Spawned> {
  const rec = new Uint8Array(64);
  const view = new DataView(rec.buffer);
  const out: Spawned = { pid };
  let have = 0;
  try {
    for (;;) {
      const n = await readAsync(fd, rec.subarray(have));
      if (n === 0) break;
      have += n;
      let off = 0;
      for (; have - off >= 8; off += 8) {
        const a = view.getUint32(off, true), b = view.getUint32(off + 4, true);
        if (a === FORK_RECORD) {
          // The intermediate process exits right after writing this record.
          if (out.forkedPid !== undefined) await wait4(out.forkedPid);
          else await wait4(pid);
          out.forkedPid = b;
          continue;
        }
        const last = out.forkedPid ?? pid;
        await wait4(last).catch(() => {});
        throw new SysError(b, plan.describe(a));
      }
      rec.copyWithin(0, off, have);
      have -= off;
    }
  } finally {
    sys(SYS.close, fd);
  }
  return out;
}
