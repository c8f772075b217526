/**
 * Picks the runtime adapter. This is the only place that asks which runtime hako runs on.
 *
 * @module
 */

import type { Backend } from "./symbols.ts";

// deno-lint-ignore no-explicit-any
const isBun = typeof (globalThis as any).Bun !== "undefined";

/** The FFI adapter for the current runtime. */
export const native: Backend = isBun
  ? (await import("./bun.ts")).backend
  : (await import("./deno.ts")).backend;
