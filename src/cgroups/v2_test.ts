// cgroup v2 code paths against a fake tree in a temp dir: this host has no v2 controllers.
// The fake holds the files the kernel would show; the test checks what hako writes.

import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { makeTempDir, mkdir, readText, remove, writeFile } from "../../ffi/fs.ts";
import { createCgroup, openCgroup, parseLimits, v2HostAt } from "./mod.ts";

const ALL = "cpuset cpu io memory hugetlb pids rdma misc";

async function fakeTree(name: string) {
  const root = await makeTempDir({ prefix: "hako-cgv2-" });
  await writeFile(`${root}/cgroup.controllers`, ALL + "\n");
  await writeFile(`${root}/cgroup.subtree_control`, "\n");
  // What the kernel shows in hako/ once the root delegated the controllers.
  await mkdir(`${root}/hako`);
  await writeFile(`${root}/hako/cgroup.controllers`, "cpuset cpu io memory pids\n");
  await writeFile(`${root}/hako/cgroup.subtree_control`, "memory\n");
  // The leaf as the kernel would make it (files hako only writes when they exist).
  const leaf = `${root}/hako/${name}`;
  await mkdir(leaf);
  await writeFile(`${leaf}/memory.swap.max`, "max\n");
  await writeFile(`${leaf}/cgroup.kill`, "");
  return { root, leaf };
}

const read = async (p: string) => (await readText(p)).trim();
const v2 = { version: 2 as const, cpus: [0, 1, 2, 3], mems: [0] };

test("cgroups v2 (fake tree): create enables controllers, limits land in v2 files", async () => {
  const { root, leaf } = await fakeTree("c1");
  try {
    const host = await v2HostAt(root);
    assertEquals(host.version, 2);
    const limits = await parseLimits({
      memory: "256m",
      "memory-swap": "1g",
      "memory-reservation": "128m",
      cpus: "1.5",
      "cpu-shares": 1024,
      "cpuset-cpus": "1-2",
      "pids-limit": 64,
      "blkio-weight": 500,
    }, v2);
    const cg = await createCgroup("c1", "hako", { host, limits });
    assertEquals(cg.paths, [leaf]);
    assertEquals(cg.procsFiles(), [`${leaf}/cgroup.procs`]);
    assertEquals(cg.cgroupDir, leaf);
    assertEquals(await read(`${root}/cgroup.subtree_control`), "+cpu +cpuset +io +memory +pids");
    assertEquals(await read(`${root}/hako/cgroup.subtree_control`), "+cpu +cpuset +io +pids");
    assertEquals(await read(`${leaf}/memory.max`), String(256 * 2 ** 20));
    assertEquals(await read(`${leaf}/memory.swap.max`), String(768 * 2 ** 20));
    assertEquals(await read(`${leaf}/memory.low`), String(128 * 2 ** 20));
    assertEquals(await read(`${leaf}/cpu.max`), "150000 100000");
    assertEquals(await read(`${leaf}/cpu.weight`), "39");
    assertEquals(await read(`${leaf}/cpuset.cpus`), "1-2");
    assertEquals(await read(`${leaf}/pids.max`), "64");
    assertEquals(await read(`${leaf}/io.weight`), `default ${1 + Math.floor(490 * 9999 / 990)}`);

    await cg.apply(await parseLimits({ memory: "64m", "memory-swap": "-1", "pids-limit": -1 }, v2));
    assertEquals(await read(`${leaf}/memory.swap.max`), "max");
    assertEquals(await read(`${leaf}/pids.max`), "max");
    await cg.apply({ cpuQuota: -1, cpuPeriod: 50000 });
    assertEquals(await read(`${leaf}/cpu.max`), "max 50000");

    await assertRejects(() => cg.apply({ oomKillDisable: true }), /not supported on cgroup v2/);
  } finally {
    await remove(root, { recursive: true });
  }
});

test("cgroups v2 (fake tree): a missing controller is named", async () => {
  const { root, leaf } = await fakeTree("c2");
  try {
    await writeFile(`${leaf}/cgroup.controllers`, "cpu pids\n");
    const host = await v2HostAt(root);
    await assertRejects(
      () => createCgroup("c2", "hako", { host, limits: { memory: 64 * 2 ** 20 } }),
      /the memory controller is not enabled/,
    );
  } finally {
    await remove(root, { recursive: true });
  }
});

test("cgroups v2 (fake tree): stats, pids, freeze and cgroup.kill", async () => {
  const { root, leaf } = await fakeTree("c3");
  try {
    const host = await v2HostAt(root);
    await writeFile(`${leaf}/cgroup.procs`, "10\n12\n");
    await writeFile(
      `${leaf}/cpu.stat`,
      "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
    );
    await writeFile(`${leaf}/memory.current`, "10485760\n");
    await writeFile(`${leaf}/memory.max`, "33554432\n");
    await writeFile(`${leaf}/memory.peak`, "20971520\n");
    await writeFile(`${leaf}/memory.stat`, "anon 4096\nfile 8192\ninactive_file 1048576\n");
    await writeFile(
      `${leaf}/memory.events`,
      "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n",
    );
    await writeFile(`${leaf}/pids.current`, "2\n");
    await writeFile(`${leaf}/pids.max`, "max\n");
    await writeFile(
      `${leaf}/io.stat`,
      "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n" +
        "8:16 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
    );
    await writeFile(`${leaf}/cgroup.events`, "populated 1\nfrozen 1\n");
    const cg = await openCgroup("c3", "hako", { host });
    assertEquals(await cg.pids(), [10, 12]);
    assertEquals(await cg.stats(), {
      cpu: {
        usageNs: 1_500_000,
        userNs: 1_000_000,
        systemNs: 500_000,
        periods: 7,
        throttledPeriods: 2,
        throttledNs: 30_000,
      },
      memory: {
        usage: 9 * 2 ** 20,
        rawUsage: 10 * 2 ** 20,
        maxUsage: 20 * 2 ** 20,
        limit: 32 * 2 ** 20,
        failcnt: 5,
        oomKills: 1,
      },
      pids: { current: 2, limit: null },
      blkio: { readBytes: 4196, writeBytes: 8192 },
    });
    await cg.freeze();
    assertEquals(await read(`${leaf}/cgroup.freeze`), "1");
    await cg.kill();
    assertEquals(await read(`${leaf}/cgroup.kill`), "1");
    await assertRejects(() => openCgroup("nope", "hako", { host }), /no such cgroup/);
  } finally {
    await remove(root, { recursive: true });
  }
});

test("cgroups: names are checked before anything is made", async () => {
  const host = await v2HostAt("/nonexistent");
  await assertRejects(() => createCgroup("../etc", "hako", { host }), /invalid cgroup name/);
  await assertRejects(() => createCgroup("ok", "/abs", { host }), /invalid cgroup parent/);
  assert(true);
});
