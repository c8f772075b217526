/**
 * `hako stats` against the kernel's own counters of the same container: each figure hako
 * reports is read between two direct reads of the cgroup files, so a monotonic counter must
 * fall between them; the CLI's strings are checked against the same numbers.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox, run } from "../fixtures.ts";
import { readText } from "../../ffi/fs.ts";
import { storePaths } from "../../src/engine/paths.ts";
import {
  blockIO,
  containerStats,
  cpuPercent,
  memoryUsage,
  networkIO,
  parseNetDev,
} from "../../src/engine/stats.ts";
import { Box, cgKeyed, cgRead, cgroupDirs, cpuUsageNs, hakoArgv, sleep } from "./util.ts";

const skip = needsRoot() || await needsBusybox();

/** Kernel memory figures: raw usage and usage minus inactive file, as Docker counts it. */
async function kernelMemory(id: string) {
  const d = await cgroupDirs(id);
  if (d.version === 2) {
    const raw = Number(await cgRead(d.memory, "memory.current"));
    const inactive = (await cgKeyed(d.memory, "memory.stat")).get("inactive_file") ?? 0;
    return { raw, usage: raw - inactive, limit: Number(await cgRead(d.memory, "memory.max")) };
  }
  const raw = Number(await cgRead(d.memory, "memory.usage_in_bytes"));
  const inactive = (await cgKeyed(d.memory, "memory.stat")).get("total_inactive_file") ?? 0;
  return {
    raw,
    usage: raw - inactive,
    limit: Number(await cgRead(d.memory, "memory.limit_in_bytes")),
  };
}

/** Kernel bytes written by the container (v1 blkio service bytes, v2 io.stat wbytes). */
async function kernelWritten(id: string): Promise<number> {
  const d = await cgroupDirs(id);
  let n = 0;
  if (d.version === 2) {
    for (const m of (await cgRead(d.blkio, "io.stat")).matchAll(/wbytes=(\d+)/g)) n += Number(m[1]);
    return n;
  }
  const text = await cgRead(d.blkio, "blkio.throttle.io_service_bytes_recursive");
  for (const l of text.split("\n")) {
    const [, op, v] = l.trim().split(/\s+/);
    if (op === "Write") n += Number(v);
  }
  return n;
}

test("stats: hako's figures match the kernel's counters for the same container", async () => {
  const box = await Box.create();
  try {
    const id = await box.ok(
      "run",
      "-d",
      "--name",
      "s",
      "--memory",
      "64m",
      "--cpus",
      "0.5",
      "bb:1",
      "sh",
      "-c",
      // Write 8 MiB through to disk (page cache and block I/O), then spin.
      "dd if=/dev/zero of=/tmp/f bs=1M count=8 conv=fsync 2>/dev/null; while :; do :; done",
    );
    const paths = storePaths(box.root);
    await sleep(1500);
    const pid = (await box.inspect("s")).State.Pid;

    const k0 = await cpuUsageNs(id), w0 = await kernelWritten(id);
    const a = await containerStats(paths, "s");
    const k1 = await cpuUsageNs(id);
    await sleep(2000);
    const k2 = await cpuUsageNs(id), m2 = await kernelMemory(id);
    const net0 = parseNetDev(await readText(`/proc/${pid}/net/dev`));
    const b = await containerStats(paths, "s", a);
    const k3 = await cpuUsageNs(id), m3 = await kernelMemory(id), w3 = await kernelWritten(id);
    const pids = Number(await cgRead((await cgroupDirs(id)).pids, "pids.current"));
    const net1 = parseNetDev(await readText(`/proc/${pid}/net/dev`));

    // The CPU time hako read (checked against the kernel below) over the wall time between
    // its two reads: Docker's formula, whose host-time denominator comes from /proc/stat,
    // must agree with it whatever the load.
    const wallNs = (Date.parse(b.read) - Date.parse(a.read)) * 1e6;
    const kernelPct = (b.cpu_stats.cpu_usage.total_usage - a.cpu_stats.cpu_usage.total_usage) /
      wallNs * 100;
    console.log(
      `stats vs kernel: cpu usage hako ${a.cpu_stats.cpu_usage.total_usage} in kernel ` +
        `[${k0}, ${k1}] and ${b.cpu_stats.cpu_usage.total_usage} in [${k2}, ${k3}]; ` +
        `CPU % hako ${cpuPercent(b).toFixed(1)} vs kernel ${kernelPct.toFixed(1)}; ` +
        `mem usage hako ${memoryUsage(b)} vs kernel ${m2.usage}..${m3.usage} ` +
        `(raw ${b.memory_stats.usage} vs ${m2.raw}..${m3.raw}), limit ${b.memory_stats.limit} vs ${m3.limit}; ` +
        `pids ${b.pids_stats.current} vs ${pids}; written hako ${
          blockIO(b).write
        } in [${w0}, ${w3}]; net ${JSON.stringify(networkIO(b))} over ${
          Object.keys(b.networks ?? {}).join(",") || "no interface"
        }`,
    );
    // Monotonic counters fall between the kernel reads around hako's read.
    const ua = a.cpu_stats.cpu_usage.total_usage, ub = b.cpu_stats.cpu_usage.total_usage;
    assert(k0 <= ua && ua <= k1, `cpu usage ${ua} within [${k0}, ${k1}]`);
    assert(k2 <= ub && ub <= k3, `cpu usage ${ub} within [${k2}, ${k3}]`);
    const wb = blockIO(b).write;
    assert(w0 <= wb && wb <= w3, `bytes written ${wb} within [${w0}, ${w3}]`);
    // Gauges: the same as the kernel, give or take what moved between the reads.
    const lo = Math.min(m2.usage, m3.usage), hi = Math.max(m2.usage, m3.usage);
    const slack = 256 * 1024;
    const mu = memoryUsage(b);
    assert(lo - slack <= mu && mu <= hi + slack, `memory usage ${mu} ~ kernel ${lo}..${hi}`);
    assertEquals(b.memory_stats.limit, m3.limit);
    assertEquals(b.memory_stats.limit, 64 * 1024 * 1024);
    assertEquals(b.pids_stats.current, pids);
    assertEquals(b.pids_stats.limit, undefined, "no pids limit");
    // The container's own interfaces (not the host's), each counter between the two reads.
    const nets = b.networks ?? {};
    assertEquals(Object.keys(nets).sort(), Object.keys(net1).sort(), "interfaces");
    for (const [name, n] of Object.entries(nets)) {
      for (const k of ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"] as const) {
        assert(
          net0[name][k] <= n[k] && n[k] <= net1[name][k],
          `${name} ${k} ${n[k]} within [${net0[name][k]}, ${net1[name][k]}]`,
        );
      }
    }
    // CPU %: Docker's formula (host CPU time from /proc/stat) against CPU time over wall time.
    assert(
      Math.abs(cpuPercent(b) - kernelPct) < 5,
      `CPU % ${cpuPercent(b).toFixed(1)} ~ ${kernelPct.toFixed(1)} (cgroup time over wall time)`,
    );
    assert(kernelPct < 70, `the 0.5 CPU quota holds (${kernelPct.toFixed(1)}%)`);

    // The CLI prints the same figures in Docker's strings.
    const row = JSON.parse(await box.ok("stats", "--no-stream", "--format", "json", "s"));
    console.log(`hako stats --no-stream --format json s: ${JSON.stringify(row)}`);
    assertEquals(Object.keys(row).sort(), [
      "BlockIO",
      "CPUPerc",
      "Container",
      "ID",
      "MemPerc",
      "MemUsage",
      "Name",
      "NetIO",
      "PIDs",
    ]);
    assertEquals([row.ID, row.Name, row.PIDs], [id.slice(0, 12), "s", String(pids)]);
    assert(/^[\d.]+[KMG]?i?B \/ 64MiB$/.test(row.MemUsage), `MemUsage ${row.MemUsage}`);
    assert(/^\d+\.\d\d%$/.test(row.CPUPerc), `CPUPerc ${row.CPUPerc}`);
    const pct = parseFloat(row.CPUPerc);
    assert(pct < 70, `CLI CPU % ${pct} under the 0.5 CPU quota`);
    const table = await box.ok("stats", "--no-stream");
    const [header, line] = table.split("\n");
    assert(
      /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/
        .test(header),
      header,
    );
    assert(line.startsWith(id.slice(0, 12)) && line.includes(" s "), line);
  } finally {
    await box.cleanup();
  }
}, { skip });

test(
  "stats: -a lists stopped containers with zeros; the live view redraws; unknown names fail",
  async () => {
    const box = await Box.create();
    try {
      await box.ok("run", "-d", "--name", "up", "bb:1", "sleep", "1000");
      await box.ok("create", "--name", "down", "bb:1", "true");
      const names = (out: string) => out.split("\n").map((l) => JSON.parse(l).Name).sort();
      assertEquals(names(await box.ok("stats", "--no-stream", "--format", "json")), ["up"]);
      const all = await box.ok("stats", "-a", "--no-stream", "--format", "json");
      assertEquals(names(all), ["down", "up"]);
      const down = all.split("\n").map((l) => JSON.parse(l)).find((r) => r.Name === "down");
      assertEquals(
        [down.CPUPerc, down.MemUsage, down.NetIO, down.BlockIO, down.PIDs],
        ["0.00%", "0B / 0B", "0B / 0B", "0B / 0B", "0"],
      );
      const tpl = await box.ok("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "up");
      assertEquals(tpl, "up: 1");
      // Streaming: a table every second until stopped; `head` stops it after two tables.
      const hako = [...hakoArgv(), "--root", box.root, "stats"].map((a) => `'${a}'`).join(" ");
      const live = await run(["timeout", "60", "sh", "-c", `${hako} | head -n 4`], {
        check: false,
      });
      const lines = live.stdout.trim().split("\n");
      assertEquals(lines.filter((l) => l.startsWith("CONTAINER ID")).length, 2, live.stdout);
      assert(lines[1].includes(" up ") && lines[3].includes(" up "), live.stdout);
      const bad = await box.hako("stats", "--no-stream", "nosuch");
      assertEquals(bad.code, 125);
      assertEquals(bad.stderr.trim(), "hako: no such container: nosuch");
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);
