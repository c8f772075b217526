/**
 * build: a small Dockerfile built cold (empty cache) and rebuilt after a one-file change,
 * with hako and podman (buildah); the rebuild's cache hit ratio is read from each
 * builder's output.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { attempt, lacksSysResource, podmanBase, workload } from "./engines.ts";
import { IMAGE } from "./fixture.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { missing } from "./peers.ts";
import { runCommand, type RunResult, sh } from "./proc.ts";
import { addRatios, type Case, measure } from "./runner.ts";

const DOCKERFILE = `FROM ${IMAGE}
RUN echo one > /one
COPY a.txt /a.txt
RUN cat /a.txt > /copy.txt
COPY b.txt /b.txt
RUN wc -c /b.txt > /size.txt
`;
/** Steps after FROM; the one-file change (b.txt) invalidates the last two. */
const STEPS = 5;
const EXPECTED_HITS = 3;

/** Cache hits a builder reported ("Using cache" for buildah/docker, "CACHED" for BuildKit-style). */
export function cacheHits(output: string): number {
  return (output.match(/using cache|\bCACHED\b/gi) ?? []).length;
}

interface Engine {
  id: string;
  label: string;
  kind: "hako" | "container";
  /** argv prefix that selects the engine's store. */
  base: string[];
  /** Build flags after `build`. */
  flags: string[];
  skip?: string;
  note?: string;
  /** Makes the store empty but for the base image (untimed). */
  reset: () => Promise<void>;
}

/** The build group. */
export const build: Group = {
  name: "build",
  title: "Build: cold, and rebuild after a one-file change",
  summary: "hako build vs podman build (cache hits, seconds)",
  defaultRuns: 3,
  peers: ["hako", "podman"],
  async run(ctx: Context): Promise<GroupResult> {
    const dir = `${ctx.work}/build`;
    const context = `${dir}/context`;
    await fs.mkdir(context, { recursive: true });
    await fs.writeFile(`${context}/Dockerfile`, DOCKERFILE);
    await fs.writeFile(`${context}/a.txt`, "a\n");
    await fs.writeFile(`${context}/b.txt`, "b 0\n");
    const { tar } = await workload(ctx);
    let change = 0;
    const touch = () => fs.writeFile(`${context}/b.txt`, `b ${++change}\n`);

    const engines: Engine[] = [];
    const hbin = ctx.peers.byId.hako.path;
    const hroot = `${dir}/hako`;
    let hakoSkip = missing(ctx.peers, "hako");
    if (!hakoSkip) {
      const help = await runCommand([hbin!, "--help"]);
      if (!/^\s+build\s/m.test(help.output)) {
        hakoSkip = "not available in this build (hako --help lists no build)";
      }
    }
    engines.push({
      id: "hako",
      label: "hako build",
      kind: "hako",
      base: [hbin ?? "hako", "--root", hroot],
      flags: [],
      skip: hakoSkip,
      reset: async () => {
        await fs.remove(hroot, { recursive: true }).catch(() => {});
        await sh([hbin!, "--root", hroot, "import", tar, IMAGE]);
      },
    });
    const pbin = ctx.peers.byId.podman.path;
    const pdir = `${dir}/podman`;
    const pbase = podmanBase(ctx, pdir);
    const limited = await lacksSysResource();
    engines.push({
      id: "podman",
      label: "podman build (buildah)",
      kind: "container",
      base: pbase,
      flags: [
        "--layers",
        ...(limited ? ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"] : []),
      ],
      skip: missing(ctx.peers, "podman"),
      note: limited
        ? "--ulimit nofile=1024:1024 --ulimit nproc=4096:4096: root here lacks CAP_SYS_RESOURCE"
        : undefined,
      reset: async () => {
        await runCommand([...pbase, "system", "reset", "-f"], { timeoutMs: 300_000 });
        await sh([...pbase, "import", tar, IMAGE]);
      },
    });
    if (!engines.find((e) => e.id === "podman")!.skip) {
      ctx.defer("remove the build group's podman store", async () => {
        await runCommand([...pbase, "system", "reset", "-f"], { timeoutMs: 300_000 });
      });
    }

    const hits: Record<string, number[]> = {};
    const cases: Case[] = [];
    for (const e of engines) {
      const argv = [
        ...e.base,
        "build",
        ...e.flags,
        "-t",
        "bench-build:1",
        "-f",
        `${context}/Dockerfile`,
        context,
      ];
      let ready = false;
      cases.push({
        id: `${e.id}-cold`,
        label: `${e.label}, cold`,
        kind: e.kind,
        argv,
        skip: e.skip,
        note: e.note
          ? `${e.note}; store emptied before each run (untimed)`
          : "store emptied before each run (untimed)",
        prepare: async () => {
          await e.reset();
          ready = false;
        },
        cleanup: () => {
          ready = true;
          return Promise.resolve();
        },
      });
      hits[e.id] = [];
      cases.push({
        id: `${e.id}-rebuild`,
        label: `${e.label}, rebuild after a one-file change`,
        kind: e.kind,
        argv,
        skip: e.skip,
        note: "b.txt changed before each run; the first three steps can come from the cache",
        prepare: async () => {
          if (!ready) {
            const r = await attempt(() => sh(argv, { timeoutMs: 600_000 }));
            if (typeof r === "string" && r.includes("exited")) throw new Error(r);
            ready = true;
          }
          await touch();
        },
        check: (r: RunResult) => {
          hits[e.id].push(cacheHits(r.output));
          return null;
        },
        timeoutMs: 600_000,
      });
    }
    const rows = await measure(cases, {
      runs: ctx.runs,
      warmup: Math.min(ctx.warmup, 1),
      log: ctx.log,
      group: "build",
      stopped: ctx.stopped,
    });
    addRatios(rows, "hako-cold");
    for (const r of rows) {
      const e = r.id.replace(/-(cold|rebuild)$/, "");
      if (r.id.endsWith("-rebuild") && r.summary && hits[e]?.length) {
        const h = hits[e].slice(-r.summary.n);
        const mean = h.reduce((a, b) => a + b, 0) / h.length;
        r.extra = {
          "Cache hits": `${+mean.toFixed(1)} of ${STEPS} (${Math.round((100 * mean) / STEPS)}%)`,
        };
      }
    }
    return {
      name: "build",
      title: this.title,
      description:
        "A six-line Dockerfile on the busybox image (two COPY, three RUN). Cold: the builder's store holds only the base image. Rebuild: one copied file changed, so at best three of the five steps come from the cache.",
      notes: [
        `Cache hits are counted from the builder's output ("Using cache" or "CACHED" lines); the best possible is ${EXPECTED_HITS} of ${STEPS}.`,
        "Ratios are medians over hako's cold build.",
      ],
      baseline: "hako-cold",
      columns: ["Cache hits"],
      rows,
    };
  },
};
