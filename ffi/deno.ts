/**
 * Deno adapter: Deno.dlopen, Deno.UnsafeFnPointer and Deno.UnsafePointer. Off-thread
 * calls use `nonblocking: true`, which runs the call on Deno's blocking thread pool.
 *
 * @module
 */

import { type Backend, LIBC_PATH, libcSymbols } from "./symbols.ts";

const libc = Deno.dlopen(Deno.env.get("HAKO_LIBC") ?? LIBC_PATH, libcSymbols).symbols;

// deno-lint-ignore no-explicit-any
function ptr(addr: bigint): Deno.PointerObject<any> {
  const p = Deno.UnsafePointer.create(addr);
  if (p === null) throw new TypeError("null pointer");
  return p;
}

const LONGS = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"] as const;

export const backend: Backend = {
  runtime: "deno",
  libc(name, ...args) {
    // deno-lint-ignore no-explicit-any
    return BigInt((libc[name] as any)(...args));
  },
  addr(buf) {
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
  },
  memory(addr, len) {
    return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr(addr), len));
  },
  fn(addr, nargs) {
    const f = new Deno.UnsafeFnPointer(ptr(addr), {
      parameters: LONGS.slice(0, nargs),
      result: "i64",
    });
    // deno-lint-ignore no-explicit-any
    const call = f.call.bind(f) as (...a: any[]) => number | bigint;
    return (...args) => BigInt(call(...args));
  },
  asyncSyscall({ hako_syscall }) {
    const f = new Deno.UnsafeFnPointer(ptr(hako_syscall), {
      parameters: LONGS,
      result: "i64",
      nonblocking: true,
    });
    return async (nr, args) => {
      const a = [...args, 0n, 0n, 0n, 0n, 0n, 0n];
      return BigInt(await f.call(BigInt(nr), a[0], a[1], a[2], a[3], a[4], a[5]));
    };
  },
};
