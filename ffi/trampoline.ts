/**
 * Loads the trampoline bytes for this CPU into an executable mapping and exposes its
 * entry points: the raw `syscall`, `spawnPlan` (clone + run a plan in the child) and an
 * off-thread `syscallAsync`.
 *
 * @module
 */

import { native } from "./native.ts";
import { trampolines } from "./trampoline_bytes.ts";

/** The CPU architecture hako runs on. */
export const arch: "x86_64" | "aarch64" = detectArch();

function detectArch(): "x86_64" | "aarch64" {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const a: string = g.Deno?.build?.arch ?? g.process?.arch;
  if (a === "x86_64" || a === "x64") return "x86_64";
  if (a === "aarch64" || a === "arm64") return "aarch64";
  throw new Error(`unsupported CPU architecture ${a}`);
}

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

function load(): Record<keyof (typeof trampolines)["x86_64"]["entries"], bigint> {
  const t = trampolines[arch];
  const code = Uint8Array.from(atob(t.code), (c) => c.charCodeAt(0));
  const len = (code.length + 4095) & ~4095;
  const base = native.libc(
    "mmap",
    0,
    len,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
    -1,
    0,
  );
  if (base === 0xffffffffffffffffn || base === -1n) {
    throw new Error("mmap of the trampoline failed");
  }
  native.memory(base, code.length).set(code);
  // W^X: never writable and executable at once.
  if (native.libc("mprotect", base, len, PROT_READ | PROT_EXEC) !== 0n) {
    throw new Error("mprotect of the trampoline failed");
  }
  const e = t.entries;
  return {
    hako_syscall: base + BigInt(e.hako_syscall),
    hako_spawn: base + BigInt(e.hako_spawn),
    hako_async: base + BigInt(e.hako_async),
  };
}

/** Absolute addresses of the trampoline's entry points. */
export const entries = load();

const rawSyscall = native.fn(entries.hako_syscall, 7);
const rawSpawn = native.fn(entries.hako_spawn, 1);

/** `long hako_syscall(long nr, long a0..a5)`: the raw kernel result, negative = -errno. */
export function syscall(nr: number, ...args: (number | bigint)[]): bigint {
  return rawSyscall(
    BigInt(nr),
    BigInt(args[0] ?? 0),
    BigInt(args[1] ?? 0),
    BigInt(args[2] ?? 0),
    BigInt(args[3] ?? 0),
    BigInt(args[4] ?? 0),
    BigInt(args[5] ?? 0),
  );
}

/** `long hako_spawn(struct plan *)`: child pid or -errno; does not wait for the child. */
export function spawnPlan(planAddr: bigint): bigint {
  return rawSpawn(planAddr);
}

const asyncCall = native.asyncSyscall(entries);

/** Like `syscall`, but runs off the JavaScript thread so the event loop keeps turning. */
export function syscallAsync(nr: number, ...args: (number | bigint)[]): Promise<bigint> {
  return asyncCall(nr, args.map(BigInt));
}
