/**
 * `deno task bench`: container start vs VM start vs every peer, on this host, in one run.
 *
 *   deno task bench                      # every group; results in bench/results/<date>/
 *   deno task bench startup --runs 50    # one group, more runs
 *   deno task bench --list               # groups, peers found and how to get the missing
 *   deno task bench --setup              # install the missing Debian packages, fetch the VM kernel
 *
 * Writes results.json (every sample and the host facts), report.md and startup.svg.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { args, env, exit, onSignal, pid, selfArgv, writeErr, writeOut } from "../ffi/host.ts";
import { build } from "./build.ts";
import { density } from "./density.ts";
import { exec } from "./exec.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { hostFacts, loadAverage } from "./hostinfo.ts";
import { type HostGuard, hostGuard } from "./hostguard.ts";
import { discoverPeers, listPeers, type Peers, setup } from "./peers.ts";
import { runCommand, setScratch, shellQuote, which } from "./proc.ts";
import { report, type Results } from "./report.ts";
import { startup } from "./startup.ts";
import { chart } from "./svg.ts";
import { unpack } from "./unpack.ts";

/** Every group, in the order the full suite runs them. */
export const GROUPS: Group[] = [startup, exec, unpack, build, density];

const USAGE = `Usage: deno task bench [GROUP...] [OPTIONS]

Measures container start-up and more against every peer found on this host.

Groups: ${GROUPS.map((g) => g.name).join(", ")} (default: all)

Options:
  --runs N          counted runs per case (default: per group, startup 20)
  --warmup N        warm-up runs per case (default 2; the first one also probes the case)
  --list            list the groups and the peers found, and how to get the missing ones
  --setup           install the missing Debian packages (says which first) and fetch the VM kernel
  --out DIR         results directory (default bench/results/<date>)
  --work DIR        scratch directory (default /var/tmp/hako-bench; removed afterwards)
  --keep            keep the scratch directory (so the report's commands can be pasted)
  --vm-timeout S    seconds a VM boot may take before the row is given up (default 120)
  --density N       containers the density group starts (default 50)
  --quick           smoke test: 1 run, no warm-up, small inputs, short VM timeout
  --no-unshare      do not run inside a private mount namespace (see the report)
  --render DIR      write DIR/report.md and DIR/startup.svg again from DIR/results.json
`;

interface Options {
  groups: string[];
  runs?: number;
  warmup?: number;
  list: boolean;
  setup: boolean;
  out?: string;
  work?: string;
  keep: boolean;
  vmTimeout?: number;
  density?: number;
  quick: boolean;
  unshare: boolean;
  render?: string;
}

function parse(argv: string[]): Options {
  const o: Options = {
    groups: [],
    list: false,
    setup: false,
    keep: false,
    quick: false,
    unshare: true,
  };
  const num = (i: number, name: string) => {
    const v = Number(argv[i]);
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${name} needs a whole number, got ${argv[i]}`);
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") o.runs = num(++i, a);
    else if (a === "--warmup") o.warmup = num(++i, a);
    else if (a === "--list") o.list = true;
    else if (a === "--setup") o.setup = true;
    else if (a === "--out") o.out = argv[++i];
    else if (a === "--work") o.work = argv[++i];
    else if (a === "--keep") o.keep = true;
    else if (a === "--vm-timeout") o.vmTimeout = num(++i, a);
    else if (a === "--density") o.density = num(++i, a);
    else if (a === "--quick") o.quick = true;
    else if (a === "--no-unshare") o.unshare = false;
    else if (a === "--render") o.render = argv[++i];
    else if (a === "-h" || a === "--help") {
      writeOut(USAGE);
      exit(0);
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else if (GROUPS.some((g) => g.name === a)) o.groups.push(a);
    else throw new Error(`unknown group ${a} (groups: ${GROUPS.map((g) => g.name).join(", ")})`);
  }
  return o;
}

function repoRoot(): string {
  return decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
}

function cacheDir(): string {
  return env("HAKO_BENCH_CACHE") ?? "/var/cache/hako-bench";
}

const NS_ENV = "HAKO_BENCH_NS";
const UNIFIED = "/sys/fs/cgroup/unified";

async function unifiedMounted(): Promise<boolean> {
  const mi = await fs.readText("/proc/self/mountinfo").catch(() => "");
  return mi.split("\n").some((l) => l.split(" ")[4] === UNIFIED && / - cgroup2 /.test(l));
}

/**
 * crun 1.8 (used by podman here) refuses the hybrid cgroup layout; every row therefore
 * runs in one private mount namespace in which the nearly empty cgroup2 tree at
 * /sys/fs/cgroup/unified is unmounted, all rows alike. Returns the re-executed bench's
 * exit code, or null when no re-exec is needed.
 */
async function reexecInNamespace(o: Options): Promise<number | null> {
  if (!o.unshare || env(NS_ENV) || !(await unifiedMounted())) return null;
  const unshare = await which("unshare");
  if (!unshare) return null;
  const argv = [
    unshare,
    "-m",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    `umount ${UNIFIED} && exec "$@"`,
    "sh",
    ...selfArgv(),
    ...args(),
  ];
  // The child gets the terminal's Ctrl-C too; this process just waits for it to tidy up.
  const off = [onSignal("SIGINT", () => {}), onSignal("SIGTERM", () => {})];
  const r = await runCommand(argv, { inherit: true, env: { [NS_ENV]: `unmounted ${UNIFIED}` } });
  off.forEach((f) => f());
  return r.code ?? 128 + (r.signal ?? 0);
}

function dateStamp(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function outDir(o: Options, repo: string, started: Date): Promise<string> {
  if (o.out) return o.out;
  const base = `${repo}/bench/results/${dateStamp(started)}`;
  let dir = base;
  for (let n = 2; await fs.exists(dir); n++) dir = `${base}-${n}`;
  return dir;
}

/** Unmounts whatever is still mounted under `dir` (deepest first) in this namespace. */
async function unmountUnder(dir: string): Promise<void> {
  const mi = await fs.readText("/proc/self/mountinfo").catch(() => "");
  const mps = mi.split("\n").map((l) => l.split(" ")[4]).filter((m) =>
    m && (m === dir || m.startsWith(dir + "/"))
  )
    .map((m) => m.replace(/\\040/g, " "));
  for (const m of mps.sort((a, b) => b.length - a.length)) {
    await runCommand(["umount", "-l", m], { timeoutMs: 30_000 });
  }
}

/** This process and its ancestors (their command lines may name the scratch directory). */
async function ancestors(): Promise<Set<number>> {
  const out = new Set<number>();
  for (let p = pid; p > 1 && !out.has(p);) {
    out.add(p);
    const stat = await fs.readText(`/proc/${p}/stat`).catch(() => "");
    p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0);
  }
  return out;
}

/** Kills processes whose command line names the scratch directory (shims, monitors). */
async function killUnder(dir: string): Promise<number> {
  let n = 0;
  const mine = await ancestors();
  for (const p of await fs.readDir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(p) || mine.has(Number(p))) continue;
    const cmd = await fs.readText(`/proc/${p}/cmdline`).catch(() => "");
    if (cmd.includes(dir + "/") || cmd.includes(dir + "\0")) {
      await runCommand(["kill", "-9", p]);
      n++;
    }
  }
  return n;
}

/** Writes report.md and startup.svg (and .png with rsvg-convert) from `res` into `dir`. */
async function render(dir: string, res: Results, rsvg: string | null): Promise<string[]> {
  const made: string[] = [];
  const charts: Record<string, string> = {};
  const st = res.groups.find((g) => g.name === "startup");
  const h = res.host;
  if (st && st.rows.length) {
    const runs = res.method.runsByGroup.startup;
    const svg = chart(st.rows, {
      title: "Start /bin/true in a busybox root: launch to exit (log scale)",
      subtitle:
        `${h.cpu}, ${h.cpus} CPUs, Linux ${h.kernelVersion}, cgroup v${h.cgroup.version}, KVM: ${h.kvm.kind}; ${runs} run${
          runs === 1 ? "" : "s"
        } per row; load average ${h.loadAverage.split(" ")[0]} at the start; ${
          res.started.slice(0, 10)
        }`,
    });
    await fs.writeFile(`${dir}/startup.svg`, svg);
    charts.startup = "startup.svg";
    made.push("startup.svg");
    if (rsvg) {
      const r = await runCommand([
        rsvg,
        "-b",
        "white",
        "-o",
        `${dir}/startup.png`,
        `${dir}/startup.svg`,
      ]);
      if (r.code === 0) made.push("startup.png");
    }
  }
  await fs.writeFile(`${dir}/report.md`, report(res, charts));
  return ["report.md", ...made];
}

/** `--render DIR`: report.md and the chart again from DIR/results.json (after changing them). */
async function renderCommand(dir: string): Promise<number> {
  const res = await fs.readJson<Results>(`${dir}/results.json`);
  const made = await render(dir, res, await which("rsvg-convert"));
  writeErr(`bench: wrote ${made.map((m) => `${dir}/${m}`).join(", ")}\n`);
  return 0;
}

async function listCommand(repo: string): Promise<void> {
  const peers = await discoverPeers(repo, cacheDir());
  const lines = ["Groups:"];
  for (const g of GROUPS) {
    const miss = g.peers.filter((id) => !peers.byId[id]?.path);
    lines.push(
      `  ${g.name.padEnd(8)} ${g.summary} (${g.defaultRuns} runs)${
        miss.length ? `; missing: ${miss.join(", ")}` : ""
      }`,
    );
  }
  lines.push("", "Peers:", ...listPeers(peers));
  lines.push("", "Install what is missing: deno task bench --setup");
  writeOut(lines.join("\n") + "\n");
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parse(args());
  } catch (e) {
    writeErr(`bench: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const repo = repoRoot();
  if (o.render) return await renderCommand(o.render);
  if (o.list) {
    await listCommand(repo);
    return 0;
  }
  if (o.setup) {
    const peers = await discoverPeers(repo, cacheDir());
    await fs.mkdir(cacheDir(), { recursive: true });
    await setup(peers, cacheDir(), (s) => writeErr(s + "\n"));
    await listCommand(repo);
    return 0;
  }
  const re = await reexecInNamespace(o);
  if (re !== null) return re;

  const started = new Date();
  const work = o.work ?? "/var/tmp/hako-bench";
  const log = (s: string) => writeErr(`${s}\n`);
  if (await fs.exists(work)) {
    log(`bench: removing ${work} left by an earlier run`);
    await killUnder(work);
    await unmountUnder(work);
    await fs.remove(work, { recursive: true });
  }
  await fs.mkdir(`${work}/logs`, { recursive: true });
  setScratch(`${work}/logs`);
  const peers: Peers = await discoverPeers(repo, cacheDir());
  const host = await hostFacts(repo);
  const guard: HostGuard = await hostGuard();

  const deferred: { what: string; fn: () => Promise<void> }[] = [];
  let stopped = false;
  const interrupt = () => {
    if (!stopped) log("bench: interrupted; finishing the current run and cleaning up");
    stopped = true;
  };
  const offs = [onSignal("SIGINT", interrupt), onSignal("SIGTERM", interrupt)];
  const selected = o.groups.length ? GROUPS.filter((g) => o.groups.includes(g.name)) : GROUPS;
  const results: GroupResult[] = [];
  const runsByGroup: Record<string, number> = {};
  const warmup = o.warmup ?? (o.quick ? 0 : 2);
  try {
    for (const g of selected) {
      if (stopped) break;
      const ctx: Context = {
        repo,
        work,
        cache: cacheDir(),
        runs: o.runs ?? (o.quick ? 1 : g.defaultRuns),
        warmup,
        quick: o.quick,
        vmTimeoutMs: (o.vmTimeout ?? (o.quick ? 20 : 120)) * 1000,
        densityCount: o.density ?? (o.quick ? 3 : 50),
        peers,
        log,
        defer: (what, fn) => deferred.push({ what, fn }),
        stopped: () => stopped,
      };
      runsByGroup[g.name] = ctx.runs;
      log(`bench: ${g.name}: ${g.title}`);
      const t0 = performance.now();
      try {
        results.push(await g.run(ctx));
      } catch (e) {
        log(`bench: ${g.name} could not run: ${(e as Error).stack ?? e}`);
        results.push({
          name: g.name,
          title: g.title,
          description: `The group could not run: ${(e as Error).message}`,
          notes: [],
          rows: [],
        });
      }
      log(`bench: ${g.name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    for (const d of deferred.reverse()) {
      try {
        await d.fn();
      } catch (e) {
        log(`bench: cleanup "${d.what}" failed: ${(e as Error).message}`);
      }
    }
    const killed = await killUnder(work);
    if (killed) log(`bench: killed ${killed} process(es) still running from ${work}`);
    await unmountUnder(work);
    for (const line of await guard.restore()) log(`bench: ${line}`);
    if (!o.keep) {
      setScratch("/tmp");
      await fs.remove(work, { recursive: true }).catch((e) => log(`bench: ${e}`));
    }
    offs.forEach((f) => f());
  }

  const dir = await outDir(o, repo, started);
  await fs.mkdir(dir, { recursive: true });
  const environment = [
    env(NS_ENV)
      ? `Every command ran inside one private mount namespace in which ${UNIFIED} (the hybrid layout's cgroup2 tree, which holds no controllers here) was unmounted, because crun 1.8 (used by podman) refuses hybrid cgroup hosts; all rows alike, started as \`unshare -m --propagation private -- sh -c 'umount ${UNIFIED} && exec "$@"' sh ${
        shellQuote([...selfArgv(), ...args()])
      }\`.`
      : "Every command ran in the host's own mount namespace.",
    `Load average (1, 5, 15 min) before: ${host.loadAverage}; after: ${
      loadAverage(await fs.readText("/proc/loadavg").catch(() => ""))
    } (other work on the host during the bench shows up in the figures).`,
    `Scratch directory: ${work} (${
      o.keep ? "kept" : "removed afterwards; --keep keeps it"
    }); engines ran on their own stores and sockets there.`,
  ];
  const res: Results = {
    format: 1,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    argv: args(),
    host,
    environment,
    method: {
      warmup,
      runsByGroup,
      order:
        "each round runs every case once, starting one case later than the round before, so drift hits all cases alike",
    },
    peers: Object.fromEntries(
      Object.entries(peers.byId).map(([id, p]) => [id, { path: p.path, version: p.version }]),
    ),
    vmKernel: peers.kernel ? `${peers.kernel} (${peers.kernelVersion})` : null,
    groups: results,
  };
  await fs.writeFile(`${dir}/results.json`, JSON.stringify(res, null, 2) + "\n");
  const made = await render(dir, res, peers.byId["rsvg-convert"]?.path ?? null);
  log(`bench: wrote ${dir}/results.json, ${made.join(", ")}`);
  writeOut(`${dir}\n`);
  return 0;
}

exit(await main());
