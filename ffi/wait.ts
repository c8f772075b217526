/**
 * <sys/wait.h>: waiting for children without blocking the event loop.
 *
 * @module
 */

import { check, E } from "./errno.ts";
import { addr, SYS } from "./sys.ts";
import { syscallAsync } from "./trampoline.ts";

/** wait4 option: return at once when no child has changed state. */
export const WNOHANG = 1;
/** wait4 option: also report stopped children. */
export const WUNTRACED = 2;
/** wait4 option: wait for threads (clone children without SIGCHLD) too. */
export const __WALL = 0x40000000;

/** A reaped child: its pid (0 with WNOHANG when none changed) and raw wait status. */
export interface WaitResult {
  pid: number;
  status: number;
}

/**
 * Waits for a child (pid -1 = any) off the JavaScript thread; retries on EINTR.
 *
 * @example
 * ```ts
 * const { status } = await wait4(pid);
 * exitCode(status); // 0
 * ```
 */
export async function wait4(pid: number, options = 0): Promise<WaitResult> {
  const st = new Int32Array(1);
  for (;;) {
    const r = await syscallAsync(SYS.wait4, pid, addr(st), options, 0);
    if (r === BigInt(-E.EINTR)) continue;
    check(r, `wait for process ${pid}`);
    return { pid: Number(r), status: st[0] };
  }
}

/** The exit code of a normally exited child, or null. */
export function exitCode(status: number): number | null {
  return (status & 0x7f) === 0 ? (status >> 8) & 0xff : null;
}

/** The signal that killed a child, or null. */
export function termSignal(status: number): number | null {
  const sig = status & 0x7f;
  return sig !== 0 && sig !== 0x7f ? sig : null;
}
