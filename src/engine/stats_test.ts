import { assert, assertEquals, test } from "../../test/harness.ts";
import {
  blockIO,
  type ContainerStats,
  cpuPercent,
  memoryPercent,
  memoryUsage,
  networkIO,
  parseNetDev,
  parseProcStat,
} from "./stats.ts";
import { binarySize, statsRow } from "../cli/stats.ts";

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 1234567    890    1    2    0     0          0         0   765432     321    3    4    0     0       0          0
`;

function sample(over: Partial<ContainerStats> = {}): ContainerStats {
  const cpu = (total: number, system: number) => ({
    cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: total },
    system_cpu_usage: system,
    online_cpus: 2,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    id: "a".repeat(64),
    name: "/web",
    read: "2026-01-01T00:00:01Z",
    preread: "2026-01-01T00:00:00Z",
    pids_stats: { current: 3, limit: 50 },
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 8, minor: 0, op: "Read", value: 4096 },
        { major: 8, minor: 0, op: "Write", value: 1_500_000 },
        { major: 8, minor: 16, op: "write", value: 500_000 },
      ],
    },
    // One second of a 2-CPU host (2e9 ns of host time), half a CPU used by the container.
    cpu_stats: cpu(1_500_000_000, 12_000_000_000),
    precpu_stats: cpu(1_000_000_000, 10_000_000_000),
    memory_stats: {
      usage: 10 * 1024 * 1024,
      limit: 64 * 1024 * 1024,
      stats: { total_inactive_file: 2 * 1024 * 1024 },
    },
    networks: parseNetDev(NET_DEV),
    ...over,
  };
}

test("stats: /proc/stat's cpu line is host CPU time in nanoseconds (user..steal)", () => {
  const text = "cpu  100 2 30 400 5 0 6 7 8 9\ncpu0 50 1 15 200 2 0 3 3 4 4\nintr 1\n";
  assertEquals(parseProcStat(text), (100 + 2 + 30 + 400 + 5 + 0 + 6 + 7) * 1e7);
  assertEquals(parseProcStat("intr 1\n"), 0);
});

test("stats: /proc/<pid>/net/dev without loopback", () => {
  assertEquals(parseNetDev(NET_DEV), {
    eth0: {
      rx_bytes: 1234567,
      rx_packets: 890,
      rx_errors: 1,
      rx_dropped: 2,
      tx_bytes: 765432,
      tx_packets: 321,
      tx_errors: 3,
      tx_dropped: 4,
    },
  });
  assertEquals(networkIO(sample()), { rx: 1234567, tx: 765432 });
});

test("stats: Docker's CPU % formula, and no figure without a previous sample", () => {
  assertEquals(cpuPercent(sample()), 50);
  const first = sample();
  first.precpu_stats = { ...first.precpu_stats, system_cpu_usage: 0 };
  assertEquals(cpuPercent(first), 0);
  const idle = sample();
  idle.cpu_stats = { ...idle.precpu_stats, system_cpu_usage: 12_000_000_000 };
  assertEquals(cpuPercent(idle), 0);
});

test("stats: memory usage leaves out inactive file cache (v1 and v2 names)", () => {
  assertEquals(memoryUsage(sample()), 8 * 1024 * 1024);
  assertEquals(memoryPercent(sample()), 12.5);
  const v2 = sample({ memory_stats: { usage: 100, limit: 1000, stats: { inactive_file: 40 } } });
  assertEquals(memoryUsage(v2), 60);
  // Inactive file larger than usage (counters read at different moments): usage as is.
  const odd = sample({ memory_stats: { usage: 100, limit: 0, stats: { inactive_file: 400 } } });
  assertEquals([memoryUsage(odd), memoryPercent(odd)], [100, 0]);
});

test("stats: block I/O sums every device, whatever the case of op", () => {
  assertEquals(blockIO(sample()), { read: 4096, write: 2_000_000 });
});

test("stats: the CLI row uses Docker's field names and units", () => {
  assertEquals(statsRow(sample()), {
    BlockIO: "4.1kB / 2MB",
    CPUPerc: "50.00%",
    Container: "aaaaaaaaaaaa",
    ID: "aaaaaaaaaaaa",
    MemPerc: "12.50%",
    MemUsage: "8MiB / 64MiB",
    Name: "web",
    NetIO: "1.23MB / 765kB",
    PIDs: "3",
  });
  assertEquals(statsRow(sample(), true).ID.length, 64);
  assertEquals(
    [0, 1023, 1024, 1536, 2_087_354_368, 25_276_489_728].map(binarySize),
    ["0B", "1023B", "1KiB", "1.5KiB", "1.944GiB", "23.54GiB"],
  );
  assert(statsRow(sample()).MemUsage.endsWith("/ 64MiB"));
});
