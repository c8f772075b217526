/**
 * density: N idle detached containers per engine. Times starting all N one after the
 * other, and measures the host memory they take beyond the containers' own processes:
 * the engine's per-container helpers (hako's monitor, podman's conmon, docker's shim) and
 * the kernel's share (cgroups, namespaces, mounts, page tables).
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { attempt, docker, hako, podman } from "./engines.ts";
import { IMAGE } from "./fixture.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { missing } from "./peers.ts";
import { lastLines, runCommand, shellQuote } from "./proc.ts";
import { addRatios, type Kind, type Row, skippedRow } from "./runner.ts";
import { median, summarize } from "./stats.ts";

/** The idle command; its odd argument finds the containers' processes in /proc. */
const IDLE = ["/bin/sleep", "86399"];

interface Engine {
  id: string;
  label: string;
  kind: Kind;
  /** The command that starts one container (prints its id). */
  start: string[];
  /** Removes the given containers (untimed). */
  remove: (ids: string[]) => Promise<void>;
  /** Matches the command line of this engine's per-container helper process. */
  helper: RegExp;
  helperName: string;
  /** Matches the engine's long-running daemons, whose growth counts too. */
  daemon?: RegExp;
  note?: string;
  skip?: string;
}

/** Memory "used" as free(1) counts it, in KiB: not free, not reclaimable cache. */
async function usedKiB(): Promise<number> {
  const mi = await fs.readText("/proc/meminfo");
  const v = (k: string) => Number(mi.match(new RegExp(`^${k}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
  return v("MemTotal") - v("MemFree") - v("Buffers") - v("Cached") - v("SReclaimable") + v("Shmem");
}

/** Proportional set size (KiB) of every process whose command line matches. */
async function pssOf(match: (cmdline: string) => boolean): Promise<{ count: number; kib: number }> {
  let count = 0, kib = 0;
  for (const p of await fs.readDir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await fs.readText(`/proc/${p}/cmdline`).catch(() => "");
    if (!cmd || !match(cmd)) continue;
    const roll = await fs.readText(`/proc/${p}/smaps_rollup`).catch(() => "");
    const pss = Number(roll.match(/^Pss:\s+(\d+)/m)?.[1] ?? NaN);
    if (Number.isFinite(pss)) {
      count++;
      kib += pss;
    }
  }
  return { count, kib };
}

const isIdle = (cmd: string) => cmd === IDLE.join("\0") + "\0" || cmd === "sleep\u000086399\u0000";

async function engines(ctx: Context): Promise<Engine[]> {
  const out: Engine[] = [];
  const h = await attempt(() => hako(ctx));
  const hb = typeof h === "string" ? null : h.bin;
  out.push({
    id: "hako",
    label: "hako run -d",
    kind: "hako",
    start: [...(hb ?? ["hako"]), "run", "-d", "--network", "none", IMAGE, ...IDLE],
    remove: async (ids) => {
      if (hb && ids.length) await runCommand([...hb, "rm", "-f", ...ids], { timeoutMs: 600_000 });
    },
    helper: new RegExp(`__monitor`),
    helperName: "hako monitor",
    skip: typeof h === "string" ? h : h.binMissing,
  });
  const pg = missing(ctx.peers, "podman");
  const p = pg ? pg : await attempt(() => podman(ctx));
  const pm = typeof p === "string" ? null : p;
  out.push({
    id: "podman",
    label: "podman run -d",
    kind: "container",
    start: [
      ...(pm?.base ?? ["podman"]),
      "run",
      "-d",
      "--network",
      "none",
      ...(pm?.runFlags ?? []),
      IMAGE,
      ...IDLE,
    ],
    remove: async (ids) => {
      if (pm && ids.length) {
        await runCommand([...pm.base, "rm", "-f", "-t", "0", ...ids], { timeoutMs: 600_000 });
      }
    },
    helper: /^(\/usr\/bin\/)?conmon\0/,
    helperName: "conmon",
    note: pm?.note,
    skip: typeof p === "string" ? p : undefined,
  });
  const dg = missing(ctx.peers, "dockerd", "docker");
  const d = dg ? dg : await attempt(() => docker(ctx));
  const dk = typeof d === "string" ? null : d;
  out.push({
    id: "docker",
    label: "docker run -d",
    kind: "container",
    start: [...(dk?.docker ?? ["docker"]), "run", "-d", "--network", "none", IMAGE, ...IDLE],
    remove: async (ids) => {
      if (dk && ids.length) {
        await runCommand([...dk.docker, "rm", "-f", ...ids], { timeoutMs: 600_000 });
      }
    },
    helper: /containerd-shim/,
    helperName: "containerd-shim",
    daemon: /^[^\0]*(dockerd|containerd)\0/,
    skip: typeof d === "string" ? d : undefined,
  });
  return out;
}

function kib(v: number): string {
  return Math.abs(v) >= 1024 ? `${(v / 1024).toFixed(1)} MiB` : `${v.toFixed(0)} KiB`;
}

interface Sample {
  ms: number;
  /** Per-container helper processes found, and their summed PSS. */
  helpers: number;
  helperKiB: number;
  /** How much the engine's daemons (dockerd, its containerd) grew, PSS. */
  daemonGrowthKiB: number;
  /** Host used-memory growth minus the containers' own PSS (includes the kernel's share). */
  hostKiB: number;
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 2000));
}

/** Starts N containers with `e`, measures, removes them; null with a reason on failure. */
async function round(ctx: Context, e: Engine, n: number): Promise<Sample | string> {
  await settle();
  const ours = (re: RegExp) => (c: string) => re.test(c) && c.includes(ctx.work);
  const before = await usedKiB();
  const daemonsBefore = e.daemon ? await pssOf(ours(e.daemon)) : { count: 0, kib: 0 };
  const ids: string[] = [];
  let ms = 0;
  try {
    for (let i = 0; i < n; i++) {
      const r = await runCommand(e.start, { timeoutMs: 120_000 });
      ms += r.ms;
      if (r.code !== 0) {
        return `container ${i + 1} of ${n}: exited ${r.code}: ${lastLines(r.output, 2)}`;
      }
      const id = r.output.trim().split("\n").at(-1)?.trim();
      if (id) ids.push(id);
    }
    await settle();
    const after = await usedKiB();
    const own = await pssOf(isIdle);
    // Only helpers and daemons of this bench's stores count (others may run containers).
    const helpers = await pssOf(ours(e.helper));
    const daemonsAfter = e.daemon ? await pssOf(ours(e.daemon)) : { count: 0, kib: 0 };
    if (own.count < n) return `only ${own.count} of ${n} containers' processes were found running`;
    return {
      ms,
      helpers: helpers.count,
      helperKiB: helpers.kib,
      daemonGrowthKiB: daemonsAfter.kib - daemonsBefore.kib,
      hostKiB: after - before - own.kib,
    };
  } finally {
    await e.remove(ids);
  }
}

/** The density group. */
export const density: Group = {
  name: "density",
  title: "Density: idle detached containers",
  summary:
    "50 idle containers: memory beyond their processes, time to start all (hako, podman, docker)",
  defaultRuns: 3,
  peers: ["hako", "podman", "dockerd", "docker"],
  async run(ctx: Context): Promise<GroupResult> {
    const n = ctx.densityCount;
    const es = await engines(ctx);
    const samples: Record<string, Sample[]> = {};
    const reasons: Record<string, string> = {};
    const live = () => es.filter((e) => !e.skip && !reasons[e.id]);
    for (let r = 0; r < ctx.runs && !ctx.stopped(); r++) {
      const order = live();
      const k = order.length ? r % order.length : 0;
      for (const e of [...order.slice(k), ...order.slice(0, k)]) {
        if (ctx.stopped()) break;
        const s = await round(ctx, e, n);
        if (typeof s === "string") {
          reasons[e.id] = s;
          ctx.log(`density: ${e.label}: ${s}`);
          continue;
        }
        (samples[e.id] ??= []).push(s);
        ctx.log(
          `density: run ${r + 1}/${ctx.runs}: ${e.label}: ${n} in ${(s.ms / 1000).toFixed(1)} s; ` +
            `helpers ${kib(s.helperKiB)}, daemons +${kib(s.daemonGrowthKiB)}, host used ${
              kib(s.hostKiB)
            } beyond the containers`,
        );
      }
    }
    const rows: Row[] = es.map((e) => {
      const label = `${e.label} × ${n}`;
      const ss = samples[e.id] ?? [];
      if (e.skip || !ss.length) {
        const row = skippedRow(
          e.id,
          label,
          e.kind,
          e.skip ?? reasons[e.id] ?? "not run",
          e.start,
          "start all N",
        );
        if (!e.skip) row.status = "failed";
        return row;
      }
      const med = (f: (s: Sample) => number) => median(ss.map(f));
      const engineKiB = med((s) => s.helperKiB + s.daemonGrowthKiB);
      const helpers = med((s) => s.helpers);
      return {
        id: e.id,
        label,
        kind: e.kind,
        command: `${shellQuote(e.start)}   # ${n} times`,
        note: e.note,
        status: "measured",
        reason: reasons[e.id] ? `a later run failed: ${reasons[e.id]}` : undefined,
        metric: `start all ${n}, one after the other`,
        samples: ss.map((s) => s.ms),
        failures: 0,
        summary: summarize(ss.map((s) => s.ms)),
        extra: {
          "Engine memory": `${kib(engineKiB)} (${kib(engineKiB / n)} each)`,
          "Helper processes": `${helpers} × ${e.helperName}, ${kib(med((s) => s.helperKiB))}${
            e.daemon ? `; daemons +${kib(med((s) => s.daemonGrowthKiB))}` : ""
          }`,
          "Host used memory": kib(med((s) => s.hostKiB)),
        },
      };
    });
    addRatios(rows, "hako");
    return {
      name: "density",
      title: `${this.title} (${n} per engine)`,
      description:
        `Each run starts ${n} containers running \`${IDLE.join(" ")}\` (network none), ` +
        "one after the other, times the whole, waits 2 s, then measures memory. Engine memory is " +
        "what the engine keeps in user space for the idle containers: the proportional set size " +
        "(PSS) of its per-container helper processes plus the growth of its daemons. Host used " +
        "memory is the growth of the host's used memory (free(1)'s sense: not free, not " +
        "reclaimable cache) minus the containers' own processes' PSS: it adds the kernel's share " +
        "(cgroups, namespaces, mounts, page tables) but also whatever else the host did meanwhile. " +
        "The containers are removed after each run (untimed).",
      notes: [
        "Memory figures are medians over the runs. Host used memory is only meaningful on an otherwise idle host; a negative value means other work freed memory during the run.",
        "Helper processes are found by command line under the bench's scratch directory: hako's `__monitor`, podman's conmon, docker's containerd-shim; docker's daemons are its dockerd and containerd.",
      ],
      baseline: "hako",
      columns: ["Engine memory", "Helper processes", "Host used memory"],
      rows,
    };
  },
};
