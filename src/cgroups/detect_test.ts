import { assertEquals, test } from "../../test/harness.ts";
import { hostFromMounts, parseMountinfo } from "./detect.ts";

const hybrid = `22 1 0:20 / / rw - ext4 /dev/vda rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;

const pureV2 = `22 1 0:20 / / rw - ext4 /dev/vda rw
29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

test("detect: hybrid host uses v1 controllers (co-mounted share a dir) and keeps unified", async () => {
  const host = await hostFromMounts(parseMountinfo(hybrid), () => Promise.resolve(["hugetlb"]));
  assertEquals(host, {
    version: 1,
    v1: {
      cpu: "/sys/fs/cgroup/cpu,cpuacct",
      cpuacct: "/sys/fs/cgroup/cpu,cpuacct",
      cpuset: "/sys/fs/cgroup/cpuset",
      memory: "/sys/fs/cgroup/memory",
      pids: "/sys/fs/cgroup/pids",
    },
    unified: "/sys/fs/cgroup/unified",
    controllers: ["hugetlb"],
  });
});

test("detect: pure v2 host", async () => {
  const host = await hostFromMounts(
    parseMountinfo(pureV2),
    (mp) => Promise.resolve(mp === "/sys/fs/cgroup" ? ["cpu", "memory", "pids"] : []),
  );
  assertEquals(host, {
    version: 2,
    v1: {},
    unified: "/sys/fs/cgroup",
    controllers: ["cpu", "memory", "pids"],
  });
});

test("detect: mountinfo escapes in mount points", () => {
  const m = parseMountinfo("1 2 0:3 / /a\\040b rw - cgroup2 cgroup2 rw\n");
  assertEquals(m[0].mountPoint, "/a b");
});
