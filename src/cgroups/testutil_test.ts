// Helpers for the cgroup tests (named *_test.ts so nothing ships it; it registers no tests).
// Spawning is runtime-specific here only: the code under test never spawns.

import { runtime } from "../../test/harness.ts";

/** A spawned process: its pid and its exit (code, or 128+signal like a shell reports). */
export interface Child {
  pid: number;
  exited: Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15 };

/** Spawns argv with stdio ignored. */
export function spawn(argv: string[]): Child {
  if (runtime === "bun") {
    // deno-lint-ignore no-explicit-any
    const p = (globalThis as any).Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
    return {
      pid: p.pid,
      exited: p.exited.then((code: number) =>
        p.signalCode ? 128 + (SIGNALS[p.signalCode] ?? 0) : code
      ),
    };
  }
  const p = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "null", stderr: "null" })
    .spawn();
  return {
    pid: p.pid,
    exited: p.status.then((s) => s.signal ? 128 + (SIGNALS[s.signal] ?? 0) : s.code),
  };
}

/** A shell that joins every cgroup.procs file by writing "0" (as the runtime's child does). */
export function spawnJoined(procsFiles: string[], script: string): Child {
  const join = procsFiles.map((f) => `echo 0 > ${f}`).join("; ");
  return spawn(["sh", "-c", `${join}; ${script}`]);
}

/** A unique cgroup name per test, so parallel or failed runs never collide. */
export function uniqueName(): string {
  return `hako-test-${crypto.randomUUID().slice(0, 8)}`;
}
