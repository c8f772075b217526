import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { mkdir, readText, stat } from "../../ffi/fs.ts";
import {
  CgroupError,
  createCgroup,
  detectCgroups,
  listCgroups,
  openCgroup,
  parseLimits,
  removeOrphans,
} from "./mod.ts";
import { sleep } from "./files.ts";
import { spawnJoined, uniqueName } from "./testutil_test.ts";

const root = needsRoot();
const host = root ? null : await detectCgroups().catch(() => null);
const skipV1 = root || (host?.version !== 1 ? "needs a cgroup v1 (or hybrid) host" : false);

async function waitFor(cond: () => Promise<boolean>, ms = 3000): Promise<void> {
  for (let t = 0; t < ms; t += 20) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error("timed out waiting for condition");
}

test(
  "cgroups v1: create makes a dir in every hierarchy, a child joins, remove kills and cleans",
  async () => {
    const name = uniqueName();
    const cg = await createCgroup(name);
    try {
      for (const mount of Object.values(host!.v1)) {
        assert((await stat(`${mount}/hako/${name}`))?.isDirectory, `dir in ${mount}`);
      }
      assert(cg.paths.length >= 8, `paths: ${cg.paths}`);
      assertEquals(cg.procsFiles().length, cg.paths.length);
      const cpus = await readText(`${host!.v1.cpuset}/hako/${name}/cpuset.cpus`);
      assert(cpus.trim() !== "", "cpuset.cpus inherited from the parent");
      const devs = await readText(`${host!.v1.devices}/hako/${name}/devices.list`);
      assert(devs.includes("c 1:3 rwm") && !devs.includes("a *:* rwm"), devs);

      const child = spawnJoined(cg.procsFiles(), "exec sleep 30");
      await waitFor(async () => (await cg.pids()).includes(child.pid));
      for (const f of cg.procsFiles()) {
        assert((await readText(f)).split("\n").includes(String(child.pid)), `${child.pid} in ${f}`);
      }
      assert((await listCgroups()).includes(name), "listed");
      const other = await openCgroup(name);
      assertEquals(await other.pids(), [child.pid]);

      await other.remove();
      assertEquals(await child.exited, 137);
      for (const p of cg.paths) assertEquals(await stat(p), null, `${p} removed`);
      await cg.remove(); // idempotent
    } finally {
      await cg.remove();
    }
  },
  { skip: skipV1 },
);

test("cgroups v1: limits land in the right files", async () => {
  const name = uniqueName();
  const limits = await parseLimits({
    memory: "64m",
    "memory-reservation": "32m",
    cpus: "0.5",
    "cpu-shares": 512,
    "cpuset-cpus": "0",
    "pids-limit": 100,
    "blkio-weight": 300,
  });
  const cg = await createCgroup(name, "hako", { limits });
  try {
    const v1 = host!.v1;
    const read = async (c: string, f: string) =>
      (await readText(`${v1[c as keyof typeof v1]}/hako/${name}/${f}`)).trim();
    assertEquals(await read("memory", "memory.limit_in_bytes"), String(64 * 2 ** 20));
    assertEquals(await read("memory", "memory.soft_limit_in_bytes"), String(32 * 2 ** 20));
    if (await stat(`${v1.memory}/hako/${name}/memory.memsw.limit_in_bytes`)) {
      assertEquals(await read("memory", "memory.memsw.limit_in_bytes"), String(128 * 2 ** 20));
    }
    assertEquals(await read("cpu", "cpu.cfs_quota_us"), "50000");
    assertEquals(await read("cpu", "cpu.cfs_period_us"), "100000");
    assertEquals(await read("cpu", "cpu.shares"), "512");
    assertEquals(await read("cpuset", "cpuset.cpus"), "0");
    assertEquals(await read("pids", "pids.max"), "100");
    const w = await stat(`${v1.blkio}/hako/${name}/blkio.weight`)
      ? await read("blkio", "blkio.weight")
      : await read("blkio", "blkio.bfq.weight");
    assertEquals(w, "300");

    // Lowering and raising later (docker update) keeps memsw >= limit at every step.
    await cg.apply(await parseLimits({ memory: "512m" }));
    assertEquals(await read("memory", "memory.limit_in_bytes"), String(512 * 2 ** 20));
    await cg.apply(await parseLimits({ memory: "16m", "pids-limit": -1 }));
    assertEquals(await read("memory", "memory.limit_in_bytes"), String(16 * 2 ** 20));
    assertEquals(await read("pids", "pids.max"), "max");
  } finally {
    await cg.remove();
  }
}, { skip: skipV1 });

test("cgroups v1: a 32 MiB limit OOM-kills a bigger allocator and stats report it", async () => {
  const name = uniqueName();
  const cg = await createCgroup(name, "hako", {
    limits: await parseLimits({ memory: "32m", "memory-swap": "32m" }),
  });
  try {
    const child = spawnJoined(
      cg.procsFiles(),
      `x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived`,
    );
    assertEquals(await child.exited, 137);
    const s = await cg.stats();
    assert(s.memory.oomKills >= 1, `oomKills ${s.memory.oomKills}`);
    assertEquals(s.memory.limit, 32 * 2 ** 20);
    assert(s.cpu.usageNs > 0, `cpu usage ${s.cpu.usageNs}`);
  } finally {
    await cg.remove();
  }
}, { skip: skipV1 });

test("cgroups v1: stats, freeze/thaw, kill with a live child", async () => {
  const name = uniqueName();
  const cg = await createCgroup(name, "hako", { limits: await parseLimits({ "pids-limit": 50 }) });
  try {
    // Memory is charged when allocated: allocate after joining so there is some to see.
    const child = spawnJoined(
      cg.procsFiles(),
      `x=$(head -c 2000000 /dev/zero | tr '\\0' a); while :; do :; done`,
    );
    await waitFor(async () => (await cg.pids()).includes(child.pid));
    await waitFor(async () => (await cg.stats()).memory.rawUsage > 2_000_000);
    const s = await cg.stats();
    assert(s.pids.current >= 1, `pids.current ${s.pids.current}`);
    assertEquals(s.pids.limit, 50);
    assert(s.cpu.usageNs > 0, "cpu time counted");
    assert(s.memory.rawUsage > 0, "memory counted");
    await cg.freeze();
    const frozen = (await cg.stats()).cpu.usageNs;
    await sleep(100);
    assertEquals((await cg.stats()).cpu.usageNs, frozen, "no CPU used while frozen");
    await cg.thaw();
    await cg.kill("SIGTERM");
    assertEquals(await child.exited, 143);
  } finally {
    await cg.remove();
  }
}, { skip: skipV1 });

test("cgroups: removeOrphans removes only cgroups whose container is gone", async () => {
  const keep = uniqueName(), gone = uniqueName();
  const a = await createCgroup(keep);
  const b = await createCgroup(gone);
  try {
    const child = spawnJoined(b.procsFiles(), "exec sleep 30");
    await waitFor(async () => (await b.pids()).includes(child.pid));
    const removed = await removeOrphans((n) => n !== gone && n.startsWith("hako-test-") || true);
    assertEquals(removed.includes(gone), false, "alive() said every container is alive");
    const removed2 = await removeOrphans((n) => n !== gone);
    assertEquals(removed2, [gone]);
    assertEquals(await child.exited, 137);
    assert(!(await listCgroups()).includes(gone), "gone is gone");
    assert((await listCgroups()).includes(keep), "keep is kept");
  } finally {
    await a.remove();
    await b.remove();
  }
}, { skip: root || (host ? false : "no cgroups mounted") });

test(
  "cgroups v1: a limit the kernel refuses names the file and errno, and nothing is left",
  async () => {
    const name = uniqueName();
    const err = await assertRejects(
      () => createCgroup(name, "hako", { limits: { cpusetCpus: "4000" } }),
      /^write "4000" to \/sys\/fs\/cgroup\/cpuset\/hako\/hako-test-\w+\/cpuset.cpus: E[A-Z]+ \(.+\)$/,
    );
    assert(err instanceof CgroupError, "a CgroupError");
    assert(!(await listCgroups()).includes(name), "cleaned up after the failure");
  },
  { skip: skipV1 },
);

test("cgroups v1: --oom-kill-disable and sub-cgroups made inside the container", async () => {
  const name = uniqueName();
  const cg = await createCgroup(name, "hako", {
    limits: await parseLimits({ memory: "64m", "oom-kill-disable": true }),
  });
  try {
    const oom = await readText(`${host!.v1.memory}/hako/${name}/memory.oom_control`);
    assert(oom.includes("oom_kill_disable 1"), oom);
    // A container (systemd, docker-in-docker) may make its own sub-cgroups: remove() must
    // take those down first, with their tasks.
    await mkdir(`${host!.v1.pids}/hako/${name}/inner`);
    const child = spawnJoined(
      [`${host!.v1.pids}/hako/${name}/inner/cgroup.procs`],
      "exec sleep 30",
    );
    await waitFor(async () => (await cg.pids()).includes(child.pid));
    await cg.remove();
    assertEquals(await child.exited, 137);
    for (const p of cg.paths) assertEquals(await stat(p), null, `${p} removed`);
  } finally {
    await cg.remove();
  }
}, { skip: skipV1 });
