import { buildContainerPlan, cloneFlags } from "./container_plan.ts";
import { DEFAULT_CAPS, defaultMounts, defaultNamespaces, type Spec } from "./spec.ts";
import { CLONE } from "./linux.ts";
import { assert, assertEquals, test } from "../../test/harness.ts";

function spec(over: Partial<Spec> = {}): Spec {
  return {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    hostname: "box",
    process: {
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/bin"],
      cwd: "/srv",
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS },
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 2048 }],
    },
    mounts: defaultMounts(),
    linux: { namespaces: defaultNamespaces() },
    ...over,
  };
}

function steps(s: Spec, extra: Record<string, unknown> = {}): string[] {
  const resolved = new Map((s.mounts ?? []).map((m) => [m.destination, m.destination.slice(1)]));
  resolved.set(s.process!.cwd, s.process!.cwd.slice(1));
  const p = buildContainerPlan({
    spec: s,
    rootfs: "/b/rootfs",
    resolved,
    fileBinds: new Set(),
    execPaths: ["/bin/sh"],
    cgroupProcsFds: [7, 8],
    ...extra,
  });
  return Array.from({ length: p.length }, (_, i) => p.describe(i));
}

test("container plan: the steps come in runc's order", () => {
  const d = steps(spec());
  const at = (re: RegExp) => d.findIndex((x) => re.test(x));
  assertEquals(d.filter((x) => x === "join the container's cgroup").length, 2);
  assert(
    at(/join the container's cgroup/) < at(/make \/ private/),
    "cgroup joined before any mount",
  );
  assert(at(/mount proc on \/proc/) < at(/pivot_root/), "mounts before pivot_root");
  assert(at(/create \/dev\/null/) > at(/mount tmpfs on \/dev$/), "devices in the fresh /dev");
  assert(at(/pivot_root/) < at(/mask \/proc\/kcore/), "masks inside the new root");
  assert(at(/remount \/proc\/sys read-only/) > at(/pivot_root/));
  assert(at(/set hostname box/) > 0 && at(/bring up loopback/) > 0);
  assert(at(/set RLIMIT_NOFILE to 1024:2048/) > 0);
  assert(at(/drop CAP_SYS_ADMIN/) > 0 && at(/drop CAP_CHOWN/) < 0, "bounding set is Docker's");
  assert(at(/set uid 0/) < at(/set capabilities/), "capabilities set after the user switch");
  assert(at(/create working directory \/srv/) < at(/pivot_root/));
  assertEquals(d[d.length - 1], "exec /bin/sh");
  assert(at(/close inherited fds/) === d.length - 2, "fds closed right before exec");
});

test("container plan: only the namespaces asked for; no mounts without a mount namespace", () => {
  const s = spec({ linux: { namespaces: [{ type: "pid" }, { type: "uts" }] } });
  assertEquals(cloneFlags(s), CLONE.NEWPID | CLONE.NEWUTS);
  const d = steps(s);
  assert(!d.some((x) => /^mount /.test(x) || /pivot_root/.test(x)), "no mount steps");
  assert(!d.some((x) => /loopback/.test(x)), "no network namespace, no loopback setup");
  assertEquals(
    cloneFlags(spec()),
    CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS,
  );
});

test("container plan: a non-root user keeps no capabilities", () => {
  const s = spec();
  s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 50] };
  const d = steps(s);
  assert(!d.includes("set capabilities"), "capset is skipped: setresuid clears them");
  assert(d.includes("set uid 1000") && d.includes("set supplementary groups"));
});
