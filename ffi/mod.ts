/**
 * hako's FFI boundary: raw Linux system calls and the native spawn trampoline, the same
 * on Deno and Bun. Nothing outside ffi/ knows which runtime it runs on; import only this.
 *
 * @example
 * ```ts
 * import { exitCode, Plan, spawn, SYS, wait4 } from "./mod.ts";
 * const p = new Plan();
 * const sh = p.str("/bin/sh");
 * p.syscall(SYS.execve, [sh, p.strings(["sh", "-c", "exit 7"]), p.pointers([])], "run sh");
 * const { pid } = await spawn(p, { cloneFlags: 0 });
 * exitCode((await wait4(pid)).status); // 7
 * ```
 *
 * @module
 */

export { arch, syscallAsync } from "./trampoline.ts";
export { addr, cstr, SYS, sys } from "./sys.ts";
export { check, E, errnoMessage, errnoName, SysError } from "./errno.ts";
export { MAX_SLOTS, OP, Plan, type StepOptions } from "./plan.ts";
export { spawn, type Spawned, type SpawnOptions, start, type Started } from "./spawn.ts";
export {
  __WALL,
  exitCode,
  termSignal,
  wait4,
  type WaitResult,
  WNOHANG,
  WUNTRACED,
} from "./wait.ts";
export {
  chdir,
  close,
  CLOSE_RANGE_CLOEXEC,
  dup3,
  getpid,
  O_CLOEXEC,
  O_NONBLOCK,
  pipe2,
  read,
  readAsync,
  sethostname,
  write,
} from "./unistd.ts";
export { kill, pidfdOpen, pidfdSendSignal, SIG } from "./signal.ts";
export { MNT_DETACH, mount, MS, pivotRoot, umount2 } from "./mount.ts";
export {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  flock,
  ioctl,
  LOCK,
  lsetxattr,
  makedev,
  mkdirat,
  mknod,
  O,
  openat,
  S_IF,
} from "./fcntl.ts";
export { CLONE, setns, unshare } from "./sched.ts";
export { lgetxattr, llistxattr } from "./xattr.ts";

/** Which JavaScript runtime hako runs on (for diagnostics only; do not branch on it). */
export const runtime: "deno" | "bun" = (await import("./native.ts")).native.runtime;
