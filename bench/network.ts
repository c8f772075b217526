/**
 * Networking bench, on a store root of its own:
 *
 *  1. What bridge networking adds to `hako run --rm IMG true` against `--network none`:
 *     N runs of each, interleaved (so machine load hits both alike), medians side by side.
 *  2. Leaks: C cycles of `run -d -p PORT:80` + `stop` + `rm`, then counts of host links,
 *     bridge ports, addresses, NAT rules, leases and network namespaces, before and after.
 *
 *   deno run -A bench/network.ts [--hako PATH] [--runs N] [--inproc-runs M] [--cycles C]
 *                                [--state-tmpfs] [--json FILE]
 *
 * --hako defaults to dist/hako (build it with `deno task build`); the store's networks and
 * NAT table are removed at the end. Traffic: none (containers only run `true`/`sleep`).
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { makeBusyboxTar, run } from "../test/fixtures.ts";
import { createContainer, storePaths } from "../mod.ts";
import { finish, launch, removeFiles, statusCode } from "../src/engine/launch.ts";
import { wait4 } from "../ffi/mod.ts";
import { exit, onSignal } from "../ffi/host.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  // deno-lint-ignore no-explicit-any
  (globalThis as any).process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const hakoBin = opt("--hako", new URL("../dist/hako", import.meta.url).pathname);
const RUNS = Number(opt("--runs", "50"));
const INPROC_RUNS = Number(opt("--inproc-runs", String(RUNS * 4)));
const CYCLES = Number(opt("--cycles", "200"));
const jsonOut = opt("--json", "");
// Where the store keeps its volatile state (leases, locks): `<root>/run` by default; most
// hosts have /run on tmpfs, so `--state-tmpfs` puts it under /dev/shm to match them.
const stateTmpfs = args.includes("--state-tmpfs");

const root = await fs.makeTempDir({ prefix: "hako-netbench-" });
async function cleanup() {
  for (const id of (await hako("ps", "-aq")).stdout.split("\n").filter(Boolean)) {
    await hako("rm", "-f", id);
  }
  await hako("network", "reset");
  await fs.remove(root, { recursive: true });
  await fs.remove(state, { recursive: true });
}
// Interrupted: still leave nothing behind.
const offSignals = (["SIGINT", "SIGTERM"] as const).map((sig) =>
  onSignal(sig, () => void cleanup().finally(() => exit(130)))
);
let inproc: Record<string, number> | null = null;

/** utime+stime+cutime+cstime of this process from /proc/self/stat, in ms (USER_HZ 100). */
async function cpuMs(): Promise<number> {
  const st = await fs.readText("/proc/self/stat");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}
const state = stateTmpfs ? `/dev/shm/${root.split("/").pop()}-state` : `${root}/run`;
const hako = (...a: string[]) =>
  run([hakoBin, "--root", root, ...a], { check: false, env: { HAKO_STATE: state } });
async function ok(...a: string[]): Promise<string> {
  const r = await hako(...a);
  if (r.code !== 0) throw new Error(`hako ${a.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * What this store's containers could leave on the host: veths (theirs, or any port on the
 * store's bridge), addresses on that bridge, DNAT rules in the store's NAT table, lease
 * files, and network namespaces of the cycled containers still referenced anywhere (by a
 * process, an open fd or a mount).
 */
async function census(bridge: string, table: string, ids: string[], nsInodes: string[]) {
  const sh = async (cmd: string) => (await run(["sh", "-c", cmd], { check: false })).stdout.trim();
  const prefixes = ids.map((id) => `hk${id.slice(0, 8)}.`);
  const links = (await sh("ip -o link | awk -F': ' '{print $2}'")).split("\n");
  const refs = nsInodes.length
    ? await sh(
      "{ for f in /proc/[0-9]*/ns/net /proc/[0-9]*/fd/*; do readlink $f; done; " +
        "cat /proc/[0-9]*/mountinfo; } 2>/dev/null | grep -o 'net:\\[[0-9]*\\]' | sort -u",
    )
    : "";
  return {
    veths: links.filter((l) => prefixes.some((p) => l.startsWith(p))).length,
    bridgePorts: Number(await sh(`ip -o link show master ${bridge} 2>/dev/null | wc -l`)),
    bridgeAddresses: Number(await sh(`ip -o -4 addr show dev ${bridge} | wc -l`)),
    natRules: Number(await sh(`nft list table ip ${table} 2>/dev/null | grep -c dnat`)),
    leases: Number(
      await sh(`find ${state}/networks -type f -name '[0-9]*' 2>/dev/null | wc -l`),
    ),
    netns: nsInodes.filter((n) => refs.includes(n)).length,
  };
}

try {
  const tar = `${root}/bb.tar.gz`;
  await makeBusyboxTar(tar);
  await ok("import", tar, "bb");
  await fs.remove(tar);
  // First use creates the default bridge and its NAT table: not part of the comparison.
  await ok("run", "--rm", "bb", "true");
  await ok("run", "--rm", "--network", "none", "bb", "true");
  const bridge = JSON.parse(await ok("network", "inspect", "bridge"))[0]
    .Options["com.docker.network.bridge.name"];

  // The same in one process (the library's createContainer + runForeground, which is
  // what `run --rm` does after its own boot): no runtime start-up in the numbers.
  if (INPROC_RUNS > 0) {
    const paths = { ...storePaths(root), run: state };
    const ib: number[] = [], inn: number[] = [];
    // CPU time (this process and its reaped children: the containers) does not grow while
    // a busy host keeps us waiting for a CPU or a disk, so it shows the work itself.
    const cpu = { bridge: 0, none: 0 };
    // Also the part networking touches alone: launch (cgroup, network, clone, exec) + wait +
    // finish (teardown), without creating and removing the container's files.
    const lb: number[] = [], ln: number[] = [];
    for (let i = 0; i < INPROC_RUNS; i++) {
      for (const [list, network] of [[ib, undefined], [inn, "none"]] as const) {
        const t = performance.now(), c0 = await cpuMs();
        const c = await createContainer(paths, { image: "bb", cmd: ["true"], rm: true, network });
        const t1 = performance.now();
        const l = await launch(paths, c, {}, 0);
        const { status } = await wait4(l.pid);
        const r = await finish(paths, c.Id, l, status);
        (network ? ln : lb).push(performance.now() - t1);
        await removeFiles(paths, r ?? c);
        list.push(performance.now() - t);
        cpu[network ? "none" : "bridge"] += (await cpuMs()) - c0;
        if (statusCode(status) !== 0) throw new Error(`in-process run exited ${status}`);
      }
    }
    const row = (xs: number[]) =>
      `median ${median(xs).toFixed(2)}  p25 ${quantile(xs, 0.25).toFixed(2)}  min ${
        quantile(xs, 0).toFixed(2)
      } ms`;
    console.log(
      `in one process (create + launch + wait + finish + remove, as run --rm), ${INPROC_RUNS} runs each:`,
    );
    console.log(`  --network none    ${row(inn)}`);
    console.log(`  bridge (default)  ${row(ib)}`);
    console.log(
      `  bridge adds       median ${(median(ib) - median(inn)).toFixed(2)}  p25 ${
        (quantile(ib, 0.25) - quantile(inn, 0.25)).toFixed(2)
      }  min ${(quantile(ib, 0) - quantile(inn, 0)).toFixed(2)} ms`,
    );
    // Each bridge run is paired with the none run right after it: the median of the
    // differences is robust to the bursts of a busy host that hit one run of a pair.
    const pairs = ib.map((b, i) => b - inn[i]);
    console.log(
      `  bridge adds, median of ${pairs.length} paired differences: ${median(pairs).toFixed(2)} ms`,
    );
    const lpairs = lb.map((b, i) => b - ln[i]);
    console.log(
      `  launch + wait + finish only: none ${median(ln).toFixed(2)}, bridge ${
        median(lb).toFixed(2)
      } ms; bridge adds ${median(lpairs).toFixed(2)} ms (median of paired differences)`,
    );
    console.log(
      `  CPU time per run (user+sys, hako and the container): none ${
        (cpu.none / INPROC_RUNS).toFixed(2)
      } ms, bridge ${(cpu.bridge / INPROC_RUNS).toFixed(2)} ms, bridge adds ${
        ((cpu.bridge - cpu.none) / INPROC_RUNS).toFixed(2)
      } ms`,
    );
    inproc = {
      noneMs: median(inn),
      bridgeMs: median(ib),
      cpuNoneMs: cpu.none / INPROC_RUNS,
      cpuBridgeMs: cpu.bridge / INPROC_RUNS,
      pairedAddsMs: median(pairs),
      launchNoneMs: median(ln),
      launchBridgeMs: median(lb),
      launchPairedAddsMs: median(lpairs),
    };
  }

  let mb = 0, mn = 0;
  if (RUNS > 0) {
    const bridged: number[] = [], none: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const [list, extra] of [[bridged, []], [none, ["--network", "none"]]] as const) {
        const t = performance.now();
        await ok("run", "--rm", ...extra, "bb", "true");
        list.push(performance.now() - t);
      }
    }
    mb = median(bridged);
    mn = median(none);
    console.log(`hako run --rm bb true (whole CLI process), ${RUNS} interleaved runs each:`);
    console.log(
      `  --network none    median ${mn.toFixed(1)}  min ${quantile(none, 0).toFixed(1)} ms`,
    );
    console.log(
      `  bridge (default)  median ${mb.toFixed(1)}  min ${quantile(bridged, 0).toFixed(1)} ms`,
    );
    console.log(
      `  bridge adds       median ${(mb - mn).toFixed(1)} ms, median of paired differences ${
        median(bridged.map((b, i) => b - none[i])).toFixed(1)
      } ms`,
    );
  }

  const table = (await run(["sh", "-c", "nft list tables"], { check: false })).stdout
    .split("\n").map((l) => l.replace(/^table ip /, "")).find((t) =>
      t.startsWith("hako") && t.endsWith(bridge.replace(/^hk-/, ""))
    ) ?? "hako";
  // Let namespaces of the runs above finish dying before the baseline.
  await new Promise((r) => setTimeout(r, 500));
  const ids: string[] = [], nsInodes: string[] = [];
  const before = await census(bridge, table, ids, nsInodes);
  let peakRules = 0;
  for (let i = 0; i < CYCLES; i++) {
    const port = String(20000 + (i % 1000));
    const id = (await ok("run", "-d", "-p", `127.0.0.1:${port}:80`, "bb", "sleep", "60")).trim();
    ids.push(id);
    const pid = JSON.parse(await ok("inspect", id))[0].State.Pid;
    const ns = (await run(["readlink", `/proc/${pid}/ns/net`], { check: false })).stdout.trim();
    if (ns) nsInodes.push(ns);
    if (i === 0) peakRules = (await census(bridge, table, ids, [])).natRules;
    await ok("stop", "-t", "0", id);
    await ok("rm", id);
  }
  // Namespaces die asynchronously in the kernel after their last process: wait for it.
  let after = await census(bridge, table, ids, nsInodes);
  for (let i = 0; i < 50 && JSON.stringify(after) !== JSON.stringify(before); i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await census(bridge, table, ids, nsInodes);
  }
  console.log(`  (while a container ran: ${peakRules} DNAT rules in table ${table})`);
  console.log(`${CYCLES} cycles of run -d -p + stop + rm (${nsInodes.length} namespaces seen):`);
  console.log(`  before ${JSON.stringify(before)}`);
  console.log(`  after  ${JSON.stringify(after)}`);
  const leaked = Object.keys(before).filter((k) =>
    (after as Record<string, number>)[k] > (before as Record<string, number>)[k]
  );
  console.log(leaked.length ? `  LEAKED: ${leaked.join(", ")}` : "  nothing leaked");
  if (jsonOut) {
    await fs.writeFile(
      jsonOut,
      JSON.stringify(
        {
          runs: RUNS,
          cli: { noneMs: mn, bridgeMs: mb, addsMs: mb - mn },
          inProcess: inproc,
          cycles: CYCLES,
          before,
          after,
        },
        null,
        2,
      ) + "\n",
    );
  }
} finally {
  for (const off of offSignals) off();
  await cleanup();
}
