/**
 * The libc symbols hako needs, only to bootstrap the trampoline (ffi/trampoline.c):
 * every system call afterwards goes through its raw `hako_syscall`, never libc's errno.
 * Written in Deno's shape; ffi/bun.ts translates it for bun:ffi.
 *
 * @module
 */

/** Path of the C library, overridable for unusual hosts. */
export const LIBC_PATH = "libc.so.6";

export const libcSymbols = {
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) */
  mmap: { parameters: ["usize", "usize", "i32", "i32", "i32", "i64"], result: "usize" },
  /** int mprotect(void *addr, size_t len, int prot) */
  mprotect: { parameters: ["usize", "usize", "i32"], result: "i32" },
  /** int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
   *                     void *(*start)(void *), void *arg) — Bun's off-thread syscalls */
  pthread_create: { parameters: ["usize", "usize", "usize", "usize"], result: "i32" },
  /** int pthread_detach(pthread_t thread) */
  pthread_detach: { parameters: ["u64"], result: "i32" },
} as const;

/** The interface each runtime adapter (ffi/deno.ts, ffi/bun.ts) provides. */
export interface Backend {
  readonly runtime: "deno" | "bun";
  /** Calls a libc symbol from `libcSymbols`; integers in, bigint out. */
  libc(name: keyof typeof libcSymbols, ...args: (number | bigint)[]): bigint;
  /** Address of a buffer the caller keeps alive. */
  addr(buf: Uint8Array): bigint;
  /** A writable view of `len` bytes of native memory at `addr`. */
  memory(addr: bigint, len: number): Uint8Array;
  /** A synchronous function of `nargs` C `long` arguments returning `long`. */
  fn(addr: bigint, nargs: number): (...args: bigint[]) => bigint;
  /**
   * Runs `hako_syscall` off the JavaScript thread and resolves with its result, so a
   * blocking call (wait4, read) does not stall the event loop.
   */
  asyncSyscall(entries: { hako_syscall: bigint; hako_async: bigint }): (
    nr: number,
    args: bigint[],
  ) => Promise<bigint>;
}
