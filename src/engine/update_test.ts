import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import type { HostResources } from "../cgroups/mod.ts";
import { parse } from "../cli/parse.ts";
import { dockerResources, mergeLimits } from "./update.ts";

const host: HostResources = { version: 1, cpus: [0, 1], mems: [0] };
const MiB = 1024 * 1024;

test("update: new flags merge into the old limits and are validated as one set", async () => {
  const old = { memory: 256 * MiB, memorySwap: 256 * MiB, cpuPeriod: 100000, cpuQuota: 50000 };
  assertEquals(await mergeLimits(old, { memory: "512m", cpus: "1" }, host), {
    memory: 512 * MiB,
    memorySwap: 512 * MiB,
    cpuPeriod: 100000,
    cpuQuota: 100000,
  });
  // The swap allowance (memory-swap minus memory) is kept, or unlimited stays unlimited.
  const swap = { memory: 64 * MiB, memorySwap: 128 * MiB };
  assertEquals(await mergeLimits(swap, { memory: "100m" }, host), {
    memory: 100 * MiB,
    memorySwap: 164 * MiB,
  });
  assertEquals(
    await mergeLimits({ memory: 64 * MiB, memorySwap: -1 }, { memory: "1g" }, host),
    { memory: 1024 * MiB, memorySwap: -1 },
  );
  // A first memory limit gets Docker's default swap (the same again).
  assertEquals(await mergeLimits({}, { memory: "64m" }, host), {
    memory: 64 * MiB,
    memorySwap: 128 * MiB,
  });
  // Untouched limits stay; --cpu-quota replaces the quota --cpus made, keeping the period.
  assertEquals(
    await mergeLimits({ ...old, pidsLimit: 100, cpusetCpus: "0" }, { "cpu-quota": "20000" }, host),
    { ...old, cpuQuota: 20000, cpusetCpus: "0", pidsLimit: 100 },
  );
  assertEquals(await mergeLimits({ pidsLimit: 100 }, { "pids-limit": "-1" }, host), {
    pidsLimit: -1,
  });
});

test("update: values that run refuses are refused, also against the old limits", async () => {
  await assertRejects(() => mergeLimits({}, { memory: "12x" }, host), /"12x" for --memory/);
  await assertRejects(() => mergeLimits({}, { cpus: "-1" }, host), /"-1" for --cpus/);
  await assertRejects(() => mergeLimits({}, { "cpuset-cpus": "99" }, host), /99 not available/);
  await assertRejects(
    () =>
      mergeLimits(
        { memory: 64 * MiB, memorySwap: 128 * MiB },
        { "memory-reservation": "100m" },
        host,
      ),
    /must not exceed --memory/,
  );
  await assertRejects(
    () => mergeLimits({ memory: 64 * MiB, memorySwap: 128 * MiB }, { "memory-swap": "32m" }, host),
    /at least --memory/,
  );
  await assertRejects(() => mergeLimits({}, { "memory-swap": "1g" }, host), /needs --memory/);
  await assertRejects(
    () => mergeLimits({}, { "oom-kill-disable": true }, host),
    /cannot be changed/,
  );
});

test("update: Docker's HostConfig fields for inspect", () => {
  assertEquals(
    dockerResources({ memory: 64 * MiB, memorySwap: -1, cpuPeriod: 100000, cpuQuota: 150000 }),
    {
      Memory: 64 * MiB,
      MemorySwap: -1,
      MemoryReservation: 0,
      NanoCpus: 1_500_000_000,
      CpuShares: 0,
      CpuPeriod: 100000,
      CpuQuota: 150000,
      CpusetCpus: "",
      CpusetMems: "",
      PidsLimit: null,
      OomKillDisable: false,
      BlkioWeight: 0,
    },
  );
});

test("update: flags take negative numbers as values, as Docker's parser does", () => {
  const spec = { "--pids-limit": String, "--memory-swap": String, "-c": "--cpu", "--cpu": String };
  const a = parse("update", spec, ["--pids-limit", "-1", "--memory-swap", "-1", "-c", "-2", "x"]);
  assertEquals([a["--pids-limit"], a["--memory-swap"], a["--cpu"], a._], ["-1", "-1", "-2", ["x"]]);
  // After the first positional (run's IMAGE) nothing is rewritten: the command's own flags.
  const b = parse("run", { "-c": "--cpu", "--cpu": String }, ["img", "sh", "-c", "-1"], true);
  assertEquals(b._, ["img", "sh", "-c", "-1"]);
});
