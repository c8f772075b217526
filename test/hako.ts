/**
 * Drives the hako CLI from tests as a user would: a subprocess of the same runtime the
 * tests run on (`deno run -A mod.ts` or `bun mod.ts`), each test with its own store root.
 */

import * as fs from "../ffi/fs.ts";
import { makeBusyboxTar, run } from "./fixtures.ts";
import { runtime } from "./harness.ts";

const ROOT_DIR = new URL("..", import.meta.url).pathname;

/** The argv prefix that runs hako on the current runtime. */
export function hakoArgv(): string[] {
  return runtime === "bun"
    ? [`${ROOT_DIR}node_modules/.bin/bun`, `${ROOT_DIR}mod.ts`]
    : [`${ROOT_DIR}node_modules/.bin/deno`, "run", "-A", "--no-check", `${ROOT_DIR}mod.ts`];
}

/** A store root for one test, with helpers to run hako in it and to check for leaks. */
export class Store {
  private constructor(readonly root: string) {}

  /** Makes a fresh root; with `image`, imports a busybox image under that name. */
  static async create(image?: string): Promise<Store> {
    const root = await fs.makeTempDir({ prefix: "hako-test-" });
    const s = new Store(root);
    if (image) {
      const tar = `${root}/bb.tar.gz`;
      await makeBusyboxTar(tar);
      await s.ok("import", tar, image);
      await fs.remove(tar);
    }
    return s;
  }

  /** Runs `hako --root <root> ...args`. */
  hako(args: string[], opts: { stdin?: string } = {}) {
    return run([...hakoArgv(), "--root", this.root, ...args], { check: false, stdin: opts.stdin });
  }

  /** Runs hako and fails unless it exits 0; returns stdout. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.hako(args);
    if (r.code !== 0) {
      throw new Error(`hako ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
    }
    return r.stdout;
  }

  /** Container ids in the store. */
  async containerIds(): Promise<string[]> {
    return (await fs.readDir(`${this.root}/containers`)).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /** Force-removes every container, then the root. Never throws. */
  async cleanup(): Promise<void> {
    for (const id of await this.containerIds().catch(() => [])) {
      await this.hako(["rm", "-f", id]).catch(() => {});
    }
    // Bridges and NAT rules are host-wide: the store's networks go before its root does.
    await this.hako(["network", "reset"]).catch(() => {});
    await fs.remove(this.root, { recursive: true }).catch(() => {});
  }
}

/** What a container can leave on the host: mounts, cgroup dirs and processes naming `needle`. */
export async function hostTraces(needle: string): Promise<string[]> {
  const out: string[] = [];
  const mi = await fs.readText("/proc/self/mountinfo");
  for (const l of mi.split("\n")) if (l.includes(needle)) out.push(`mount: ${l}`);
  const r = await run([
    "sh",
    "-c",
    `find /sys/fs/cgroup -maxdepth 4 -type d -path '*${needle}*' 2>/dev/null; pgrep -af '${needle}' | grep -v pgrep || true`,
  ], { check: false });
  for (const l of r.stdout.split("\n").filter(Boolean)) out.push(l);
  return out;
}
