/**
 * Spawn plans: the list of raw syscalls the trampoline's child runs between clone and
 * execve. The binary layout matches `struct plan` / `struct step` in ffi/trampoline.c.
 *
 * @module
 */

import { native } from "./native.ts";

/** Step operations (`enum` in ffi/trampoline.c). */
export const OP = { SYSCALL: 0, FORK: 1, EXIT: 2 } as const;

/** Number of result slots a plan has. */
export const MAX_SLOTS = 16;
const HEADER = 48 + 8 * MAX_SLOTS, STEP = 72;
/** Plan header flag: reset every signal disposition and the mask in the child. */
const PLAN_RESET_SIGNALS = 1;

/** Options of one syscall step. */
export interface StepOptions {
  /** An errno that does not fail the step (e.g. EEXIST), or "all" to ignore every error. */
  ignore?: number | "all";
  /** Store the result into this slot. */
  store?: number;
  /** Replace arguments by slot values: `{ argIndex: slot }`. */
  fromSlot?: Record<number, number>;
}

interface Step {
  op: number;
  nr: number;
  args: bigint[];
  what: string;
  from: number;
  store: number;
  ignore: number;
}

function u64(v: number | bigint): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

/**
 * A list of steps for the child of `spawn` to run; each keeps a description so a failure
 * reads "mount proc on /proc: EPERM (Operation not permitted)".
 *
 * @example
 * ```ts
 * const p = new Plan();
 * const path = p.str("/bin/true");
 * const argv = p.pointers([path]);
 * p.syscall(SYS.execve, [path, argv, p.pointers([])], "execute /bin/true");
 * ```
 */
export class Plan {
  /** Reset signal dispositions to default and unblock all signals first (on by default). */
  resetSignals = true;
  readonly #steps: Step[] = [];
  readonly #keep: Uint8Array[] = [];
  #slots = 0;

  /** A NUL-terminated copy of `s`, kept alive by the plan; returns its address. */
  str(s: string): bigint {
    return this.bytes(new TextEncoder().encode(s + "\0"));
  }

  /** A copy of raw bytes kept alive by the plan; returns its address. */
  bytes(b: Uint8Array): bigint {
    // An ArrayBuffer of its own is allocated outside the moving JS heap, so the address
    // stays valid while a CLONE_VM child reads it.
    const copy = new Uint8Array(new ArrayBuffer(Math.max(b.length, 1)));
    copy.set(b);
    this.#keep.push(copy);
    return native.addr(copy);
  }

  /** A NULL-terminated array of pointers (argv, envp), kept alive by the plan. */
  pointers(ptrs: bigint[]): bigint {
    const a = new BigUint64Array(ptrs.length + 1);
    ptrs.forEach((p, i) => a[i] = p);
    return this.bytes(new Uint8Array(a.buffer));
  }

  /** `str` for each string, then `pointers` of them: an argv or envp array. */
  strings(list: string[]): bigint {
    return this.pointers(list.map((s) => this.str(s)));
  }

  /** A fresh slot index for `store` / `fromSlot`. */
  slot(): number {
    if (this.#slots >= MAX_SLOTS) throw new RangeError(`a plan has at most ${MAX_SLOTS} slots`);
    return this.#slots++;
  }

  /** Adds a raw syscall step; returns its index. */
  syscall(nr: number, args: (number | bigint)[], what: string, opts: StepOptions = {}): number {
    if (args.length > 6) throw new RangeError(`${what}: a syscall takes at most 6 arguments`);
    let from = 0;
    for (const [arg, slot] of Object.entries(opts.fromSlot ?? {})) {
      const i = Number(arg);
      if (!(i >= 0 && i < 6 && slot >= 0 && slot < MAX_SLOTS)) {
        throw new RangeError(`${what}: bad fromSlot ${arg}: ${slot}`);
      }
      from |= (slot + 1) << (4 * i);
    }
    const store = opts.store ?? -1;
    if (store >= MAX_SLOTS) throw new RangeError(`${what}: bad slot ${store}`);
    const ignore = opts.ignore === "all" ? -1 : opts.ignore ?? 0;
    return this.#push({ op: OP.SYSCALL, nr, args: args.map(u64), what, from, store, ignore });
  }

  /**
   * Clones again with `flags`: the parent branch reports the new pid and exits 0, the child
   * continues with the next step (exec into a PID namespace after setns; add CLONE_PARENT
   * so the new process is hako's own child).
   */
  fork(flags: number | bigint, what = "fork"): number {
    return this.#push({
      op: OP.FORK,
      nr: 0,
      args: [u64(flags)],
      what,
      from: 0,
      store: -1,
      ignore: 0,
    });
  }

  /** Ends the child with `exit_group(code)`. */
  exit(code: number, what = "exit"): number {
    return this.#push({
      op: OP.EXIT,
      nr: 0,
      args: [u64(code)],
      what,
      from: 0,
      store: -1,
      ignore: 0,
    });
  }

  /** The description of step `i`. */
  describe(i: number): string {
    return this.#steps[i]?.what ?? `step ${i}`;
  }

  /** Number of steps. */
  get length(): number {
    return this.#steps.length;
  }

  /** The `struct plan` bytes for the trampoline. */
  encode(cloneFlags: number | bigint, cgroupFd: number, reportFd: number, stack = 0n): Uint8Array {
    const buf = new ArrayBuffer(HEADER + STEP * this.#steps.length);
    const v = new DataView(buf);
    v.setBigUint64(0, u64(cloneFlags), true);
    v.setBigInt64(8, BigInt(cgroupFd), true);
    v.setBigInt64(16, BigInt(reportFd), true);
    v.setUint32(24, this.#steps.length, true);
    v.setUint32(28, this.resetSignals ? PLAN_RESET_SIGNALS : 0, true);
    v.setBigUint64(32, stack, true);
    this.#steps.forEach((s, i) => {
      const o = HEADER + STEP * i;
      v.setUint32(o, s.op, true);
      v.setUint32(o + 4, s.from, true);
      v.setInt32(o + 8, s.store, true);
      v.setInt32(o + 12, s.ignore, true);
      v.setBigUint64(o + 16, BigInt(s.nr), true);
      s.args.forEach((a, k) => v.setBigUint64(o + 24 + 8 * k, a, true));
    });
    return new Uint8Array(buf);
  }

  #push(s: Step): number {
    this.#steps.push(s);
    return this.#steps.length - 1;
  }
}
