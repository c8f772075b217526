/**
 * Bun adapter: bun:ffi dlopen, CFunction, JSCallback and ptr.
 *
 * Off-thread calls: bun:ffi has no nonblocking option, so a detached pthread runs the
 * trampoline's `hako_async` (one raw syscall, then a call back into JavaScript through a
 * `threadsafe` JSCallback, which Bun queues onto the JS thread's event loop).
 *
 * @module
 */

import { type Backend, LIBC_PATH, libcSymbols } from "./symbols.ts";

// A variable specifier keeps `deno check` from resolving the Bun-only module.
const bunFfi = "bun:ffi";
// deno-lint-ignore no-explicit-any
const ffi: any = await import(bunFfi);
// deno-lint-ignore no-explicit-any
const env = (globalThis as any).process?.env ?? {};

const libcDefs = Object.fromEntries(
  Object.entries(libcSymbols).map(([k, v]) => [k, { args: v.parameters, returns: v.result }]),
);
const libc = ffi.dlopen(env.HAKO_LIBC ?? LIBC_PATH, libcDefs).symbols;

const LONGS = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"];

/** Request layout shared with `struct async_req` in ffi/trampoline.c (9 longs). */
const REQ_RESULT = 7, REQ_DONE = 8;

export const backend: Backend = {
  runtime: "bun",
  libc(name, ...args) {
    return BigInt(libc[name](...args));
  },
  addr(buf) {
    return BigInt(ffi.ptr(buf));
  },
  memory(addr, len) {
    return new Uint8Array(ffi.toArrayBuffer(Number(addr), 0, len));
  },
  fn(addr, nargs) {
    const f = ffi.CFunction({ ptr: Number(addr), args: LONGS.slice(0, nargs), returns: "i64" });
    return (...args) => BigInt(f(...args));
  },
  asyncSyscall({ hako_async }) {
    const pending = new Map<number, { req: BigInt64Array; resolve: (r: bigint) => void }>();
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    const done = new ffi.JSCallback((p: number) => {
      const job = pending.get(Number(p));
      if (!job) return;
      pending.delete(Number(p));
      if (pending.size === 0) clearInterval(keepAlive), keepAlive = undefined;
      job.resolve(job.req[REQ_RESULT]);
    }, { args: ["ptr"], returns: "void", threadsafe: true });
    const tid = new BigUint64Array(1);
    return (nr, args) => {
      const req = new BigInt64Array(9);
      req[0] = BigInt(nr);
      for (let i = 0; i < args.length; i++) req[1 + i] = args[i];
      req[REQ_DONE] = BigInt(done.ptr);
      const at = Number(ffi.ptr(req));
      return new Promise<bigint>((resolve, reject) => {
        pending.set(at, { req, resolve });
        // A threadsafe callback does not keep Bun's loop alive by itself.
        keepAlive ??= setInterval(() => {}, 1 << 30);
        const rc = libc.pthread_create(ffi.ptr(tid), 0, Number(hako_async), at);
        if (rc !== 0) {
          pending.delete(at);
          reject(new Error(`pthread_create: error ${rc}`));
          return;
        }
        libc.pthread_detach(tid[0]);
      });
    };
  },
};
