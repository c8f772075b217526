/**
 * startup: the same trivial workload (`/bin/true` in a busybox root) from launch to exit,
 * for the process floors, hako, every container peer and QEMU VMs; Firecracker's
 * published figure as a marked reference.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { CTR_IMAGE, IMAGE } from "./fixture.ts";
import { attempt, bundle, containerd, docker, hako, podman, workload } from "./engines.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { missing } from "./peers.ts";
import { addRatios, type Case, measure, type Row } from "./runner.ts";
import { FIRECRACKER_REFERENCE, makeInitramfs, vmCases, type VmSetup } from "./vm.ts";
import { detectKvm, detectTsc } from "./vm.ts";

const TRUE = ["/bin/true"];

async function hakoCases(ctx: Context): Promise<Case[]> {
  const h = await attempt(() => hako(ctx));
  const bad = typeof h === "string" ? `setting up hako's store failed: ${h}` : undefined;
  const run = ["run", "--rm"];
  const none = [...run, "--network", "none", IMAGE, ...TRUE];
  const hk = typeof h === "string" ? null : h;
  return [
    {
      id: "hako",
      label: "hako run --rm --network none (compiled binary)",
      kind: "hako",
      argv: [...(hk?.bin ?? ["hako"]), ...none],
      skip: bad ?? hk?.binMissing,
    },
    {
      id: "hako-default-net",
      label: "hako run --rm, default network (compiled binary)",
      kind: "hako",
      argv: [...(hk?.bin ?? ["hako"]), ...run, IMAGE, ...TRUE],
      skip: bad ?? hk?.binMissing,
    },
    {
      id: "hako-deno",
      label: "hako run --rm --network none under deno run",
      kind: "hako",
      argv: [...(hk?.deno ?? ["deno"]), ...none],
      skip: bad ?? hk?.denoMissing,
    },
    {
      id: "hako-bun",
      label: "hako run --rm --network none under bun run",
      kind: "hako",
      argv: [...(hk?.bun ?? ["bun"]), ...none],
      skip: bad ?? hk?.bunMissing,
    },
  ];
}

async function ociRuntimeCases(ctx: Context): Promise<Case[]> {
  const out: Case[] = [];
  let bundleFailed: string | undefined;
  try {
    await bundle(ctx, "bundle-true", TRUE);
  } catch (e) {
    bundleFailed = `making the OCI bundle failed: ${(e as Error).message}`;
  }
  for (const rt of ["crun", "runc"]) {
    const skip = missing(ctx.peers, rt) ?? bundleFailed;
    const path = ctx.peers.byId[rt].path ?? rt;
    out.push({
      id: rt,
      label: `${rt} run (OCI bundle on the same rootfs)`,
      kind: "container",
      argv: [
        path,
        "--root",
        `${ctx.work}/${rt}-state`,
        "run",
        "-b",
        `${ctx.work}/bundle-true`,
        `bench-${rt}`,
      ],
      note:
        "a prepared bundle: no image store, no overlay, no container record; namespaces pid, network, ipc, uts, mount, cgroup as hako's",
      skip,
    });
  }
  return out;
}

async function podmanCases(ctx: Context): Promise<Case[]> {
  const gone = missing(ctx.peers, "podman");
  const p = gone ? gone : await attempt(() => podman(ctx));
  const skip = typeof p === "string" ? p : undefined;
  const pm = typeof p === "string" ? null : p;
  const base = pm?.base ?? ["podman"];
  const flags = pm?.runFlags ?? [];
  return [
    {
      id: "podman-none",
      label: "podman run --rm --network none",
      kind: "container",
      argv: [...base, "run", "--rm", "--network", "none", ...flags, IMAGE, ...TRUE],
      note: pm?.note,
      skip,
    },
    {
      id: "podman-default-net",
      label: "podman run --rm, default network",
      kind: "container",
      argv: [...base, "run", "--rm", ...flags, IMAGE, ...TRUE],
      note: pm?.note,
      skip,
    },
  ];
}

async function containerdCases(ctx: Context): Promise<Case[]> {
  const gone = missing(ctx.peers, "containerd", "ctr");
  const c = gone ? gone : await attempt(() => containerd(ctx));
  const cd = typeof c === "string" ? null : c;
  return [{
    id: "ctr",
    label: "ctr run --rm (containerd started by the bench)",
    kind: "container",
    argv: [...(cd?.ctr ?? ["ctr"]), "run", "--rm", CTR_IMAGE, "bench-ctr", ...TRUE],
    note: cd
      ? `containerd --config ${ctx.work}/containerd/config.toml (own root, state and socket; CRI plugin off); runtime io.containerd.runc.v2 (runc); an empty network namespace`
      : undefined,
    skip: typeof c === "string" ? c : undefined,
  }];
}

async function dockerCases(ctx: Context): Promise<Case[]> {
  const gone = missing(ctx.peers, "dockerd", "docker");
  const d = gone ? gone : await attempt(() => docker(ctx));
  const dk = typeof d === "string" ? null : d;
  const skip = typeof d === "string" ? d : undefined;
  const cli = dk?.docker ?? ["docker"];
  return [
    {
      id: "docker-none",
      label: "docker run --rm --network none",
      kind: "container",
      argv: [...cli, "run", "--rm", "--network", "none", IMAGE, ...TRUE],
      note: dk?.note,
      skip,
    },
    {
      id: "docker-default-net",
      label: "docker run --rm, default network",
      kind: "container",
      argv: [...cli, "run", "--rm", IMAGE, ...TRUE],
      note: dk?.note,
      skip,
    },
  ];
}

/** Everything the VM rows need, with the reasons a part is missing. */
export async function vmSetup(ctx: Context): Promise<VmSetup> {
  const initrd = `${ctx.work}/initramfs.cpio`;
  if (!(await fs.exists(initrd))) await makeInitramfs(initrd);
  return {
    qemu: ctx.peers.byId.qemu.path,
    qemuMissing: missing(ctx.peers, "qemu"),
    kernel: ctx.peers.kernel,
    kernelMissing: ctx.peers.kernelMissing,
    initrd,
    kvm: await detectKvm(),
    tsc: await detectTsc(),
    timeoutMs: Math.max(ctx.vmTimeoutMs, 60_000),
    probeTimeoutMs: ctx.vmTimeoutMs,
  };
}

/**
 * One sentence of like-for-like ratios: each peer's median over hako's median in the same
 * network mode, and each VM row over hako's.
 */
export function likeForLike(rows: Row[]): string | null {
  const med = (id: string) => rows.find((r) => r.id === id)?.summary?.median;
  const parts: string[] = [];
  const pair = (peer: string, base: string, text: string) => {
    const a = med(peer), b = med(base);
    if (a !== undefined && b !== undefined) {
      parts.push(`${text} ×${(a / b).toFixed(a / b >= 10 ? 0 : 2)}`);
    }
  };
  pair("crun", "hako", "crun run");
  pair("runc", "hako", "runc run");
  pair("podman-none", "hako", "podman run --network none");
  pair("ctr", "hako", "ctr run");
  pair("docker-none", "hako", "docker run --network none");
  pair("podman-default-net", "hako-default-net", "podman run (default network, vs hako's default)");
  pair("docker-default-net", "hako-default-net", "docker run (default network, vs hako's default)");
  for (const r of rows) {
    if (r.kind === "vm" && r.summary) pair(r.id, "hako", r.label);
  }
  return parts.length ? `Like for like, each over hako's median: ${parts.join("; ")}.` : null;
}

/** The startup group. */
export const startup: Group = {
  name: "startup",
  title: "Start-up: launch to exit of /bin/true in a busybox root",
  summary: "floors, hako (binary, deno, bun), crun, runc, podman, ctr, docker, QEMU VMs",
  defaultRuns: 20,
  peers: [
    "hako",
    "deno",
    "bun",
    "unshare",
    "crun",
    "runc",
    "podman",
    "containerd",
    "ctr",
    "dockerd",
    "docker",
    "qemu",
  ],
  async run(ctx: Context): Promise<GroupResult> {
    await workload(ctx);
    const cases: Case[] = [
      {
        id: "floor-exec",
        label: "fork+exec /bin/true (floor)",
        kind: "floor",
        argv: TRUE,
      },
      {
        id: "floor-unshare",
        label: "unshare into the same namespaces, /bin/true (floor)",
        kind: "floor",
        argv: ["unshare", "-m", "-u", "-i", "-p", "-n", "-C", "-f", ...TRUE],
        skip: missing(ctx.peers, "unshare"),
      },
      ...await hakoCases(ctx),
      ...await ociRuntimeCases(ctx),
      ...await podmanCases(ctx),
      ...await containerdCases(ctx),
      ...await dockerCases(ctx),
      ...vmCases(await vmSetup(ctx)),
    ];
    ctx.log(
      `startup: ${
        cases.filter((c) => !c.skip).length
      } cases, ${ctx.warmup} warm-up + ${ctx.runs} runs each`,
    );
    const rows: Row[] = await measure(cases, {
      runs: ctx.runs,
      warmup: ctx.warmup,
      log: ctx.log,
      group: "startup",
      stopped: ctx.stopped,
    });
    rows.push({
      id: FIRECRACKER_REFERENCE.id,
      label: FIRECRACKER_REFERENCE.label,
      kind: "reference",
      command: "",
      status: "reference",
      metric: "InstanceStart API call to guest /sbin/init",
      samples: [],
      failures: 0,
      summary: null,
      reference: {
        value: FIRECRACKER_REFERENCE.value,
        source: FIRECRACKER_REFERENCE.source,
        url: FIRECRACKER_REFERENCE.url,
      },
    });
    addRatios(rows, "hako");
    const notes = [
      "Ratios are each row's median over the median of `hako run --rm --network none` (compiled binary), from the same run.",
      "crun, runc, ctr and `--network none` rows get an empty network namespace (loopback only), as hako's baseline does; \"default network\" rows also set up each engine's bridge.",
    ];
    const pairs = likeForLike(rows);
    if (pairs) notes.push(pairs);
    return {
      name: "startup",
      title: this.title,
      description:
        "Each case starts /bin/true in the same busybox root (Debian's busybox-static) and is " +
        "timed from the bench's clone() of the command to reaping its exit (wait4), so every " +
        "row includes the same process start and the client's own start-up. VM rows boot " +
        "Debian's cloud kernel with a busybox initramfs whose /init prints a marker and powers off; " +
        "they are timed to the marker and to QEMU's exit.",
      notes,
      baseline: "hako",
      rows,
    };
  },
};
