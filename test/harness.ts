/**
 * One test API for Deno and Bun, so every test file runs unchanged on both runtimes.
 *
 * `test(name, fn, { skip })` registers a test; a skipped test prints its reason.
 */

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
const bunTestModule = "bun:test";
// deno-lint-ignore no-explicit-any
const bunTest: any = Bun ? await import(bunTestModule) : null;

/** Which runtime the tests run on. */
export const runtime: "deno" | "bun" = Bun ? "bun" : "deno";

export interface TestOptions {
  /** When set, the test is skipped and this reason is printed. */
  skip?: string | false;
  /** Milliseconds before the test is failed (Bun only; Deno has no per-test timeout). */
  timeout?: number;
}

const cleanups: (() => unknown)[] = [];

/** Runs `fn` when the current test ends, passed or failed (e.g. to remove a temp dir). */
export function deferCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Registers a test on the current runtime. */
export function test(
  name: string,
  body: () => void | Promise<void>,
  opts: TestOptions = {},
): void {
  const fn = async () => {
    try {
      await body();
    } finally {
      for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
    }
  };
  if (opts.skip) console.log(`skip: ${name}: ${opts.skip}`);
  if (bunTest) {
    if (opts.skip) bunTest.test.skip(name, fn);
    else bunTest.test(name, fn, opts.timeout ?? 300_000);
    return;
  }
  Deno.test({
    name,
    fn,
    ignore: !!opts.skip,
    sanitizeOps: false,
    sanitizeResources: false,
    sanitizeExit: false,
  });
}

/** Why a root-only test cannot run here, or false when it can. */
export function needsRoot(): string | false {
  // deno-lint-ignore no-explicit-any
  const uid = Bun ? (globalThis as any).process.getuid?.() : Deno.uid();
  return uid === 0 ? false : "needs root (run the tests as root)";
}

/** Throws when the condition is false. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Throws when the two values differ (compared as JSON). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg ? msg + ": " : ""}expected ${e}, got ${a}`);
}

/** Throws unless `fn` rejects or throws with a message matching `re`. */
export async function assertRejects(
  fn: () => unknown,
  re?: RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    if (re && !re.test(String(err?.message ?? err))) {
      throw new Error(`error ${JSON.stringify(String(err?.message))} does not match ${re}`);
    }
    return err;
  }
  throw new Error("expected an error, none was thrown");
}
