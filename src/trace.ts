/**
 * Start-path timing for measurements: with HAKO_TRACE=1, `mark("phase")` records the time
 * since the previous mark and hako prints the list on stderr when the command ends. Costs one
 * branch when off.
 */

import { env, writeErr } from "../ffi/host.ts";

const on = env("HAKO_TRACE") === "1";
const marks: [string, number][] = [];
let last = performance.now();

/** Records the time spent since the previous mark under `label`. */
export function mark(label: string): void {
  if (!on) return;
  const now = performance.now();
  marks.push([label, now - last]);
  last = now;
}

/** Prints the recorded phases (when tracing is on). */
export function report(): void {
  if (!on || !marks.length) return;
  writeErr(
    `trace: ${
      marks.map(([l, ms]) => `${l}=${ms.toFixed(2)}ms`).join(" ")
    } total(since process start)=${performance.now().toFixed(1)}ms\n`,
  );
}
