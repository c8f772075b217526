/**
 * `hako update` on the real kernel: new limits reach the running container's cgroup, are
 * stored in the record (inspect), survive a stop and start, can be changed while the
 * container is stopped, and bad values change nothing.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox } from "../fixtures.ts";
import { Box, cgKeyed, cgRead, cgroupDirs, until } from "./util.ts";

const skip = needsRoot() || await needsBusybox();
const MiB = 1024 * 1024;

/** The limits the kernel holds for a container: memory, CFS quota/period, pids.max. */
async function kernelLimits(id: string) {
  const d = await cgroupDirs(id);
  if (d.version === 2) {
    const [quota, period] = (await cgRead(d.cpu, "cpu.max")).split(" ");
    return {
      memory: Number(await cgRead(d.memory, "memory.max")),
      quota: quota === "max" ? -1 : Number(quota),
      period: Number(period),
      pids: await cgRead(d.pids, "pids.max"),
    };
  }
  return {
    memory: Number(await cgRead(d.memory, "memory.limit_in_bytes")),
    quota: Number(await cgRead(d.cpu, "cpu.cfs_quota_us")),
    period: Number(await cgRead(d.cpu, "cpu.cfs_period_us")),
    pids: await cgRead(d.pids, "pids.max"),
  };
}

test("update: limits reach the live cgroup and the record, and a restart keeps them", async () => {
  const box = await Box.create();
  try {
    const id = await box.ok(
      "run",
      "-d",
      "--name",
      "api",
      "--memory",
      "64m",
      "--cpus",
      "0.5",
      "bb:1",
      "sleep",
      "1000",
    );
    assertEquals(await kernelLimits(id), {
      memory: 64 * MiB,
      quota: 50000,
      period: 100000,
      pids: "max",
    });

    assertEquals(
      await box.ok("update", "--memory", "128m", "--cpus", "1", "--pids-limit", "20", "api"),
      "api",
    );
    const live = await kernelLimits(id);
    console.log(`update live: kernel now ${JSON.stringify(live)}`);
    assertEquals(live, { memory: 128 * MiB, quota: 100000, period: 100000, pids: "20" });
    let hc = (await box.inspect("api")).HostConfig;
    assertEquals(
      [hc.Memory, hc.MemorySwap, hc.NanoCpus, hc.CpuQuota, hc.CpuPeriod, hc.PidsLimit],
      [128 * MiB, 192 * MiB, 1e9, 100000, 100000, 20],
      "inspect (swap allowance of 64m kept)",
    );
    const d = await cgroupDirs(id);
    if (d.version === 1 && (await cgRead(d.memory, "memory.memsw.limit_in_bytes"))) {
      assertEquals(Number(await cgRead(d.memory, "memory.memsw.limit_in_bytes")), 192 * MiB);
    }

    // Bad values are refused before anything changes.
    for (const flags of [["--memory", "12x"], ["--cpus", "-1"], ["--cpuset-cpus", "99"]]) {
      const r = await box.hako("update", ...flags, "api");
      assertEquals(r.code, 125, `update ${flags.join(" ")}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const r = await box.hako("update", "--memory-reservation", "256m", "api");
    assertEquals(r.code, 125, "a reservation above the memory limit");
    assertEquals(await kernelLimits(id), live, "the kernel keeps the limits");
    assertEquals((await box.inspect("api")).HostConfig.Memory, 128 * MiB, "the record too");

    // Stopped: the change is stored and applied by the next start.
    await box.ok("stop", "-t", "1", "api");
    await box.ok("update", "--memory", "96m", "--restart", "on-failure:3", "api");
    hc = (await box.inspect("api")).HostConfig;
    assertEquals([hc.Memory, hc.RestartPolicy], [96 * MiB, {
      Name: "on-failure",
      MaximumRetryCount: 3,
    }]);
    await box.ok("start", "api");
    const again = await kernelLimits(id);
    console.log(`update stopped + start: kernel ${JSON.stringify(again)}`);
    assertEquals(again, { memory: 96 * MiB, quota: 100000, period: 100000, pids: "20" });

    const none = await box.hako("update", "--memory", "64m", "nosuch");
    assertEquals([none.code, none.stderr.trim()], [
      1,
      "Error response from daemon: no such container: nosuch",
    ]);
    const nothing = await box.hako("update", "api");
    assertEquals(nothing.code, 125);
    // The memory.events / oom_control counters are untouched by updates.
    const oom = d.version === 2
      ? (await cgKeyed(d.memory, "memory.events")).get("oom_kill")
      : (await cgKeyed(d.memory, "memory.oom_control")).get("oom_kill");
    assertEquals(oom, 0);
  } finally {
    await box.cleanup();
  }
}, { skip });

test(
  "update: memory below what the container uses is refused (v1) or OOM-kills it (v2)",
  async () => {
    const box = await Box.create();
    try {
      // Anonymous memory cannot be reclaimed without swap: the shell holds ~20 MiB in a variable
      // (used after the sleep, so busybox does not exec the sleep in the shell's place).
      const id = await box.ok(
        "run",
        "-d",
        "--name",
        "fat",
        "--memory",
        "64m",
        "bb:1",
        "sh",
        "-c",
        "x=$(head -c 20000000 /dev/zero | tr '\\0' a); sleep 1000; echo ${#x}",
      );
      const d = await cgroupDirs(id);
      const usage = async () =>
        Number(
          await cgRead(d.memory, d.version === 2 ? "memory.current" : "memory.usage_in_bytes"),
        );
      for (let i = 0; i < 1200 && (await usage()) < 20 * MiB; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if ((await usage()) < 20 * MiB) {
        console.log("update below usage: the shell did not fill 20 MiB within 120 s; not judged");
        return;
      }
      const swap = await cgRead("/proc", "swaps");
      if (swap.split("\n").length > 1) {
        console.log(
          "update below usage: the host has swap, so the kernel may swap instead; not judged",
        );
        return;
      }
      const r = await box.hako("update", "--memory", "8m", "fat");
      console.log(
        `update below usage (${await usage()} bytes): exit ${r.code}: ${r.stderr.trim()}`,
      );
      if (d.version === 2) {
        // v2 takes any memory.max and OOM-kills what cannot be reclaimed (runc and Docker
        // behave the same there).
        assertEquals(r.code, 0);
        const c = await until(async () => {
          const c = await box.inspect("fat");
          return c.State.Running ? null : c;
        }, 10_000);
        assertEquals([c?.State.ExitCode, c?.State.OOMKilled], [137, true]);
        return;
      }
      assert(r.code !== 0, "the kernel refuses a limit below unreclaimable usage");
      assert(/EBUSY/.test(r.stderr), r.stderr);
      assertEquals((await kernelLimits(id)).memory, 64 * MiB);
      assertEquals((await box.inspect("fat")).HostConfig.Memory, 64 * MiB);
      assertEquals((await box.inspect("fat")).State.Running, true);
    } finally {
      await box.cleanup();
    }
  },
  { skip },
);
