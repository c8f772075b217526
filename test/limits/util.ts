/**
 * Helpers for the limits and stats integration tests: a private store root with a busybox
 * image, the hako CLI run as a subprocess of the runtime the tests run on, and the kernel's
 * own counters of a container's cgroup (read from cgroupfs directly, not through hako).
 */

import * as fs from "../../ffi/fs.ts";
import { detectCgroups } from "../../src/cgroups/mod.ts";
import { makeBusyboxTar, run } from "../fixtures.ts";
import { runtime } from "../harness.ts";

const REPO = new URL("../..", import.meta.url).pathname;

/** The argv prefix that runs hako's CLI on the current runtime. */
export function hakoArgv(): string[] {
  return runtime === "bun"
    ? [`${REPO}node_modules/.bin/bun`, `${REPO}mod.ts`]
    : [`${REPO}node_modules/.bin/deno`, "run", "-A", "--no-check", `${REPO}mod.ts`];
}

/** A store root of one test with a busybox image tagged `bb:1`. */
export class Box {
  private constructor(readonly root: string) {}

  static async create(): Promise<Box> {
    const root = await fs.makeTempDir({ prefix: "hako-limits-" });
    const box = new Box(root);
    try {
      await makeBusyboxTar(`${root}/bb.tar.gz`);
      await box.ok("import", `${root}/bb.tar.gz`, "bb:1");
    } catch (e) {
      await box.cleanup();
      throw e;
    }
    return box;
  }

  /** Runs `hako --root <root> ...args`; never rejects on a non-zero exit. */
  hako(...args: string[]) {
    return run([...hakoArgv(), "--root", this.root, ...args], { check: false });
  }

  /** Runs hako and fails unless it exits 0; returns stdout trimmed. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.hako(...args);
    if (r.code !== 0) {
      throw new Error(`hako ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
    }
    return r.stdout.trim();
  }

  /** Parsed `hako inspect` of one container. */
  // deno-lint-ignore no-explicit-any
  async inspect(ref: string): Promise<any> {
    return JSON.parse(await this.ok("inspect", ref))[0];
  }

  /** Container ids in the store. */
  async ids(): Promise<string[]> {
    const list = await fs.readDir(`${this.root}/containers`).catch(() => []);
    return list.filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /** Force-removes every container, then the root; never throws. */
  async cleanup(): Promise<void> {
    for (const id of await this.ids().catch(() => [])) {
      await this.hako("rm", "-f", id).catch(() => {});
    }
    // Bridges and NAT tables are host-wide: remove this store's before its root goes.
    await this.hako("network", "reset").catch(() => {});
    await fs.remove(this.root, { recursive: true }).catch(() => {});
  }
}

/** The directories a container's cgroup has, per controller, on this host's layout. */
export async function cgroupDirs(id: string) {
  const h = await detectCgroups();
  if (h.version === 2) {
    const d = `${h.unified}/hako/${id}`;
    return {
      version: 2 as const,
      cpu: d,
      cpuacct: d,
      cpuset: d,
      memory: d,
      pids: d,
      blkio: d,
      devices: d,
      all: [d],
    };
  }
  const at = (c: keyof typeof h.v1) => h.v1[c] ? `${h.v1[c]}/hako/${id}` : "";
  const all = [...new Set(Object.values(h.v1))].map((m) => `${m}/hako/${id}`);
  if (h.unified) all.push(`${h.unified}/hako/${id}`);
  return {
    version: 1 as const,
    cpu: at("cpu"),
    cpuacct: at("cpuacct"),
    cpuset: at("cpuset"),
    memory: at("memory"),
    pids: at("pids"),
    blkio: at("blkio"),
    devices: at("devices"),
    all,
  };
}

/** Reads a cgroup file, trimmed ("" when it is missing). */
export async function cgRead(dir: string, file: string): Promise<string> {
  return (await fs.readText(`${dir}/${file}`).catch(() => "")).trim();
}

/** "key value" lines of a cgroup file as a map. */
export async function cgKeyed(dir: string, file: string): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const l of (await cgRead(dir, file)).split("\n")) {
    const [k, v] = l.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** The kernel's CPU time counter of the container, nanoseconds. */
export async function cpuUsageNs(id: string): Promise<number> {
  const d = await cgroupDirs(id);
  if (d.version === 2) return ((await cgKeyed(d.cpu, "cpu.stat")).get("usage_usec") ?? 0) * 1000;
  return Number(await cgRead(d.cpuacct, "cpuacct.usage"));
}

/** CFS periods and throttled periods of the container. */
export async function throttling(id: string): Promise<{ periods: number; throttled: number }> {
  const s = await cgKeyed((await cgroupDirs(id)).cpu, "cpu.stat");
  return { periods: s.get("nr_periods") ?? 0, throttled: s.get("nr_throttled") ?? 0 };
}

/** True when any of the container's cgroup directories still exists. */
export async function cgroupExists(id: string): Promise<boolean> {
  for (const d of (await cgroupDirs(id)).all) if (await fs.exists(d)) return true;
  return false;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it returns a truthy value or `ms` pass; returns the last value. */
export async function until<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(100);
  }
}
