/**
 * Resource limits on the real kernel of this host (cgroup v1 here; the same tests read v2
 * files on a v2 host): OOM kill, a contained fork bomb, a CPU quota, and refused values.
 * The figures measured are printed so they can be quoted.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox, run } from "../fixtures.ts";
import { detectCgroups, sharesToWeight } from "../../src/cgroups/mod.ts";
import {
  Box,
  cgKeyed,
  cgRead,
  cgroupDirs,
  cgroupExists,
  cpuUsageNs,
  sleep,
  throttling,
  until,
} from "./util.ts";

const skip = needsRoot() || await needsBusybox();

test(
  "limits: a 32 MiB limit OOM-kills a process that allocates more (exit 137, OOMKilled)",
  async () => {
    const box = await Box.create();
    try {
      // dd's 64 MiB block buffer is written in full by the read from /dev/zero.
      const r = await box.hako(
        "run",
        "--name",
        "oom",
        "--memory",
        "32m",
        "bb:1",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
      );
      const c = await box.inspect("oom");
      console.log(
        `oom: exit ${r.code}, OOMKilled ${c.State.OOMKilled}, HostConfig.Memory ${c.HostConfig.Memory}`,
      );
      assertEquals(r.code, 137, `exit code (stderr: ${r.stderr.trim()})`);
      assertEquals(c.State.ExitCode, 137);
      assertEquals(c.State.OOMKilled, true, "State.OOMKilled");
      assertEquals(c.HostConfig.Memory, 32 * 1024 * 1024);
      assert(!(await cgroupExists(c.Id)), "the cgroup is removed when the container exits");

      // The same container within its limit: not OOM-killed, and the flag is reset on start.
      const ok = await box.hako(
        "run",
        "--rm",
        "--memory",
        "32m",
        "bb:1",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=8M",
        "count=1",
      );
      assertEquals(ok.code, 0, `8 MiB under a 32 MiB limit: ${ok.stderr.trim()}`);
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);

test("limits: --pids-limit 50 contains a fork bomb and the host stays responsive", async () => {
  const box = await Box.create();
  try {
    // Eight loops fork background sleeps until fork fails (busybox sh then ends that loop).
    // The init forks only the one launcher and then execs a sleep, so the container stays up
    // to be measured however fast the loops fill the limit.
    const id = await box.ok(
      "run",
      "-d",
      "--name",
      "bomb",
      "--pids-limit",
      "50",
      "bb:1",
      "sh",
      "-c",
      "(for i in 1 2 3 4 5 6 7 8; do (while :; do sleep 1000 & done) & done) 2>/dev/null & exec sleep 1000",
    );
    const d = await cgroupDirs(id);
    // Wait until fork was refused and the count stopped moving.
    let last = -1;
    const settled = await until(async () => {
      const refused = (await cgKeyed(d.pids, "pids.events")).get("max") ?? 0;
      const now = Number(await cgRead(d.pids, "pids.current"));
      const stable = now === last;
      last = now;
      return refused > 0 && stable;
    }, 120_000);
    const current = Number(await cgRead(d.pids, "pids.current"));
    const refused = (await cgKeyed(d.pids, "pids.events")).get("max") ?? 0;
    const peak = await cgRead(d.pids, "pids.peak");
    // The host still answers: a host command and a hako command both complete.
    const t0 = performance.now();
    await run(["true"]);
    const ps = await box.ok("ps", "--format", "{{.Names}} {{.State}}");
    const ms = performance.now() - t0;
    const st = JSON.parse(await box.ok("stats", "--no-stream", "--format", "json", "bomb"));
    console.log(
      `fork bomb: pids.max ${await cgRead(d.pids, "pids.max")}, pids.current ${current}, ` +
        `pids.peak ${peak || "n/a"}, forks refused (pids.events max) ${refused}, ` +
        `host true + hako ps took ${ms.toFixed(0)} ms, hako stats PIDS ${st.PIDs}`,
    );
    assert(settled, "the fork bomb reached the limit and stopped growing (waited up to 120 s)");
    assertEquals(await cgRead(d.pids, "pids.max"), "50");
    assert(current <= 50, `pids.current ${current} <= 50`);
    assert(refused > 0, "the kernel refused forks");
    if (peak) assert(Number(peak) <= 50, `pids.peak ${peak} <= 50`);
    assertEquals(ps.trim(), "bomb running");
    assert(Number(st.PIDs) <= 50 && Number(st.PIDs) > 0, `stats PIDs ${st.PIDs}`);
    await box.ok("rm", "-f", "bomb");
    assert(!(await cgroupExists(id)), "rm -f removes the cgroup and every task in it");
  } finally {
    await box.cleanup();
  }
}, { skip });

test(
  "limits: --cpus 0.5 holds a busy loop at about 50% of one CPU (from the cgroup's CPU time)",
  async () => {
    const box = await Box.create();
    try {
      const id = await box.ok(
        "run",
        "-d",
        "--name",
        "busy",
        "--cpus",
        "0.5",
        "bb:1",
        "sh",
        "-c",
        "while :; do :; done",
      );
      const d = await cgroupDirs(id);
      const quota = d.version === 2
        ? await cgRead(d.cpu, "cpu.max")
        : `${await cgRead(d.cpu, "cpu.cfs_quota_us")} ${await cgRead(d.cpu, "cpu.cfs_period_us")}`;
      assertEquals(quota, "50000 100000");
      await sleep(500);
      const u0 = await cpuUsageNs(id), th0 = await throttling(id), t0 = performance.now();
      await sleep(5000);
      const u1 = await cpuUsageNs(id), th1 = await throttling(id), t1 = performance.now();
      const pct = (u1 - u0) / ((t1 - t0) * 1e6) * 100;
      const periods = th1.periods - th0.periods, throttled = th1.throttled - th0.throttled;
      console.log(
        `cpus 0.5: ${pct.toFixed(1)}% of one CPU over ${((t1 - t0) / 1000).toFixed(2)} s ` +
          `(${
            ((u1 - u0) / 1e9).toFixed(3)
          } s CPU), throttled in ${throttled} of ${periods} periods`,
      );
      assert(pct < 70, `the quota holds the loop below 70% (got ${pct.toFixed(1)}%)`);
      if (pct < 30) {
        // Below the band and rarely throttled: the host did not give the loop even half a CPU.
        if (throttled < periods / 2) {
          console.log(`cpus 0.5: machine too loaded to measure (${pct.toFixed(1)}%), not judged`);
          return;
        }
        assert(false, `the loop got ${pct.toFixed(1)}% while throttled in most periods`);
      }
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);

test(
  "limits: invalid values are refused with one line, exit 125, and nothing is created",
  async () => {
    const box = await Box.create();
    try {
      const cases: [string[], RegExp][] = [
        [["--memory", "12x"], /invalid value "12x" for --memory/],
        [["--cpus", "-1"], /invalid value "-1" for --cpus/],
        [["--cpuset-cpus", "99"], /invalid value "99" for --cpuset-cpus: 99 not available/],
        [["--memory", "1k"], /the minimum is 6m/],
        [["--memory-swap", "1g"], /--memory-swap: it needs --memory/],
        [["--cpus", "0.5", "--cpu-quota", "20000"], /cannot be combined/],
        [["--pids-limit", "lots"], /--pids-limit/],
      ];
      for (const cmd of ["run", "create"]) {
        for (const [flags, re] of cases) {
          const r = await box.hako(cmd, "--name", "bad", ...flags, "bb:1", "true");
          const err = r.stderr.trim();
          assertEquals(r.code, 125, `${cmd} ${flags.join(" ")}: exit code`);
          assert(re.test(err), `${cmd} ${flags.join(" ")}: message ${JSON.stringify(err)}`);
          assertEquals(err.split("\n").length, 1, `one line: ${JSON.stringify(err)}`);
          assertEquals(await box.ids(), [], "no container record");
          assertEquals((await box.hako("inspect", "bad")).code, 1, "no container named bad");
        }
      }
      // A valid negative form is taken as a value, as Docker does.
      const id = await box.ok(
        "create",
        "--memory",
        "64m",
        "--memory-swap",
        "-1",
        "--pids-limit",
        "-1",
        "bb:1",
        "true",
      );
      const c = await box.inspect(id);
      assertEquals([c.HostConfig.MemorySwap, c.HostConfig.PidsLimit], [-1, -1]);
      assert(!(await cgroupExists(id)), "create makes no cgroup");
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);

test(
  "limits: every resource flag reaches its cgroup file, and the device cgroup has Docker's list",
  async () => {
    const box = await Box.create();
    try {
      const online = (await cgRead("/sys/devices/system/cpu", "online")).split(/[-,]/).pop()!;
      const v1 = (await detectCgroups()).version === 1;
      const id = await box.ok(
        "run",
        "-d",
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        online,
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "30",
        "--blkio-weight",
        "300",
        ...(v1 ? ["--oom-kill-disable"] : []),
        "bb:1",
        "sleep",
        "1000",
      );
      const d = await cgroupDirs(id);
      const MiB = 1024 * 1024;
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      const check = async (dir: string, file: string, value: string) => {
        got[file] = await cgRead(dir, file);
        want[file] = value;
      };
      await check(d.pids, "pids.max", "30");
      await check(d.cpuset, "cpuset.cpus", online);
      await check(d.cpuset, "cpuset.mems", "0");
      if (d.version === 1) {
        await check(d.memory, "memory.limit_in_bytes", String(64 * MiB));
        await check(d.memory, "memory.soft_limit_in_bytes", String(32 * MiB));
        got.oom = (await cgKeyed(d.memory, "memory.oom_control")).get("oom_kill_disable") + "";
        want.oom = "1";
        await check(d.cpu, "cpu.shares", "512");
        const bfq = await cgRead(d.blkio, "blkio.bfq.weight");
        got.blkio = bfq || await cgRead(d.blkio, "blkio.weight");
        want.blkio = "300";
        const devs = (await cgRead(d.devices, "devices.list"))
          .split("\n");
        assert(devs.includes("c 1:3 rwm") && devs.includes("c 136:* rwm"), devs.join(", "));
        assert(!devs.includes("a *:* rwm"), "not every device");
      } else {
        await check(d.memory, "memory.max", String(64 * MiB));
        await check(d.memory, "memory.low", String(32 * MiB));
        await check(d.cpu, "cpu.weight", String(sharesToWeight(512)));
      }
      console.log(`flags in the kernel: ${JSON.stringify(got)}`);
      assertEquals(got, want);
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);
