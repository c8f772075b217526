/**
 * <signal.h> and pidfds.
 *
 * @module
 */

import { check } from "./errno.ts";
import { SYS, sys } from "./sys.ts";

/** Signal numbers (same on x86-64 and aarch64). */
export const SIG = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGXFSZ: 25,
} as const;

/** Sends a signal to a process (or group, pid < 0). */
export function kill(pid: number, sig: number): void {
  check(sys(SYS.kill, pid, sig), `send signal ${sig} to process ${pid}`);
}

/** Opens a pidfd for a process. */
export function pidfdOpen(pid: number, flags = 0): number {
  return Number(check(sys(SYS.pidfd_open, pid, flags), `open a pidfd for process ${pid}`));
}

/** Sends a signal through a pidfd (no pid-reuse race). */
export function pidfdSendSignal(pidfd: number, sig: number): void {
  check(sys(SYS.pidfd_send_signal, pidfd, sig, 0, 0), `send signal ${sig} through pidfd ${pidfd}`);
}
