/**
 * <sched.h>: clone flags and namespaces.
 *
 * @module
 */

import { check } from "./errno.ts";
import { SYS, sys } from "./sys.ts";

/** clone/unshare/setns flags. */
export const CLONE = {
  VM: 0x100,
  FS: 0x200,
  FILES: 0x400,
  SIGHAND: 0x800,
  PIDFD: 0x1000,
  PTRACE: 0x2000,
  VFORK: 0x4000,
  PARENT: 0x8000,
  THREAD: 0x10000,
  NEWNS: 0x20000,
  SYSVSEM: 0x40000,
  SETTLS: 0x80000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  NEWTIME: 0x80,
} as const;

/** Moves the calling thread into the namespace behind `fd` (see DESIGN: threads). */
export function setns(fd: number, nstype = 0): void {
  check(sys(SYS.setns, fd, nstype), `join namespace fd ${fd}`);
}

/** Unshares namespaces of the calling thread (see DESIGN: threads). */
export function unshare(flags: number): void {
  check(sys(SYS.unshare, flags), `unshare namespaces 0x${flags.toString(16)}`);
}
