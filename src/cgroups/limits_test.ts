import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { UsageError } from "../errors.ts";
import {
  type HostResources,
  type LimitFlags,
  type Limits,
  parseLimits,
  parseSize,
} from "./limits.ts";
import { formatCpuList, parseCpuList } from "./cpuset.ts";
import { sharesToWeight } from "./cpu.ts";
import { blkioToIoWeight } from "./blkio.ts";

const v1: HostResources = { version: 1, cpus: [0, 1, 2, 3], mems: [0] };
const v2: HostResources = { ...v1, version: 2 };
const M = 2 ** 20;

const ok: [LimitFlags, Limits][] = [
  [{}, {}],
  [{ memory: "256m" }, { memory: 256 * M, memorySwap: 512 * M }],
  [{ memory: "1g", "memory-swap": "-1" }, { memory: 2 ** 30, memorySwap: -1 }],
  [{ memory: "64M", "memory-swap": "64m" }, { memory: 64 * M, memorySwap: 64 * M }],
  [{ memory: "6291456" }, { memory: 6 * M, memorySwap: 12 * M }],
  [{ memory: "1.5g" }, { memory: 1.5 * 2 ** 30, memorySwap: 3 * 2 ** 30 }],
  [{ memory: "512MiB" }, { memory: 512 * M, memorySwap: 1024 * M }],
  [{ memory: 0 }, {}],
  [{ memory: "128m", "memory-reservation": "64m" }, {
    memory: 128 * M,
    memoryReservation: 64 * M,
    memorySwap: 256 * M,
  }],
  [{ cpus: "0.5" }, { cpuPeriod: 100000, cpuQuota: 50000 }],
  [{ cpus: 2 }, { cpuPeriod: 100000, cpuQuota: 200000 }],
  [{ "cpu-period": "50000", "cpu-quota": "25000" }, { cpuPeriod: 50000, cpuQuota: 25000 }],
  [{ "cpu-quota": "-1" }, { cpuQuota: -1 }],
  [{ "cpu-shares": "512" }, { cpuShares: 512 }],
  [{ "cpuset-cpus": "0-2", "cpuset-mems": "0" }, { cpusetCpus: "0-2", cpusetMems: "0" }],
  [{ "cpuset-cpus": "1,3" }, { cpusetCpus: "1,3" }],
  [{ "pids-limit": "100" }, { pidsLimit: 100 }],
  [{ "pids-limit": "-1" }, { pidsLimit: -1 }],
  [{ "pids-limit": 0 }, { pidsLimit: -1 }],
  [{ "oom-kill-disable": true }, { oomKillDisable: true }],
  [{ "oom-kill-disable": "false" }, {}],
  [{ "blkio-weight": "300" }, { blkioWeight: 300 }],
];

for (const [flags, want] of ok) {
  test(`parseLimits ${JSON.stringify(flags)}`, async () => {
    assertEquals(await parseLimits(flags, v1), want);
  });
}

const bad: [LimitFlags, RegExp, HostResources?][] = [
  [
    { memory: "12x" },
    /^invalid value "12x" for --memory: expected a number with an optional unit b, k, m or g$/,
  ],
  [{ memory: "-5m" }, /--memory: expected a number/],
  [{ memory: "4m" }, /^invalid value "4m" for --memory: the minimum is 6m$/],
  [{ "memory-swap": "1g" }, /--memory-swap: it needs --memory/],
  [{ memory: "1g", "memory-swap": "512m" }, /--memory-swap: it must be -1 .* or at least --memory/],
  [{ memory: "64m", "memory-reservation": "128m" }, /--memory-reservation: it must not exceed/],
  [{ "memory-reservation": "1k" }, /--memory-reservation: the minimum is 6m/],
  [{ cpus: "abc" }, /^invalid value "abc" for --cpus: expected a number of CPUs/],
  [{ cpus: "8" }, /--cpus: expected 0.01 to 4/],
  [{ cpus: "0.001" }, /--cpus: expected 0.01 to 4/],
  [{ cpus: "1", "cpu-quota": "1000" }, /--cpus: it cannot be combined with --cpu-period/],
  [{ "cpu-period": "500" }, /--cpu-period: expected microseconds from 1000 to 1000000/],
  [{ "cpu-quota": "10" }, /--cpu-quota: expected microseconds, at least 1000, or -1/],
  [{ "cpu-shares": "1" }, /--cpu-shares: expected a weight from 2 to 262144/],
  [{ "cpu-shares": "1.5" }, /--cpu-shares: expected a weight/],
  [
    { "cpuset-cpus": "0-7" },
    /^invalid value "0-7" for --cpuset-cpus: 4-7 not available \(online: 0-3\)$/,
  ],
  [{ "cpuset-cpus": "a-b" }, /--cpuset-cpus: expected a list like 0-3/],
  [{ "cpuset-cpus": "3-1" }, /--cpuset-cpus: expected a list/],
  [{ "cpuset-mems": "1" }, /--cpuset-mems: 1 not available \(online: 0\)/],
  [{ "pids-limit": "many" }, /--pids-limit: expected a number of tasks/],
  [{ "oom-kill-disable": "maybe" }, /--oom-kill-disable: expected true or false/],
  [{ "oom-kill-disable": true }, /^--oom-kill-disable is not supported on cgroup v2$/, v2],
  [{ "blkio-weight": "5" }, /--blkio-weight: expected a weight from 10 to 1000/],
];

for (const [flags, re, host] of bad) {
  test(`parseLimits rejects ${JSON.stringify(flags)}`, async () => {
    const e = await assertRejects(() => parseLimits(flags, host ?? v1), re);
    assertEquals(e instanceof UsageError, true, "a UsageError");
  });
}

test("parseSize units", () => {
  assertEquals(parseSize("1024"), 1024);
  assertEquals(parseSize("10b"), 10);
  assertEquals(parseSize("1k"), 1024);
  assertEquals(parseSize("2 GB"), 2 * 2 ** 30);
  assertEquals(parseSize("m"), null);
  assertEquals(parseSize("1.2.3m"), null);
});

test("cpu lists, shares → weight, blkio → io.weight", () => {
  assertEquals(parseCpuList("0-2,5,7-8"), [0, 1, 2, 5, 7, 8]);
  assertEquals(parseCpuList("0-1\n"), [0, 1]);
  assertEquals(parseCpuList("x"), null);
  assertEquals(formatCpuList([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
  assertEquals(sharesToWeight(2), 1);
  assertEquals(sharesToWeight(1024), 39);
  assertEquals(sharesToWeight(262144), 10000);
  assertEquals(blkioToIoWeight(10), 1);
  assertEquals(blkioToIoWeight(1000), 10000);
});
