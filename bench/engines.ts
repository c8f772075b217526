/**
 * Each engine set up once per bench run in the scratch directory, on its own store,
 * state and socket so nothing touches the host's own podman, containerd or docker: hako
 * with `--root`, podman with `--root/--runroot`, a containerd and a dockerd started by the
 * bench. Teardown is registered with the context and runs even on interrupt.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import {
  busyboxRootfs,
  CTR_IMAGE,
  IMAGE,
  ociArchive,
  ociBundle,
  ociLayout,
  tarball,
} from "./fixture.ts";
import type { Context } from "./group.ts";
import { missing } from "./peers.ts";
import { type Daemon, lastLines, runCommand, sh, startDaemon } from "./proc.ts";

/** Runs `make`; a thrown error becomes a one-line reason string (a row's skip reason). */
export async function attempt<T>(make: () => Promise<T>): Promise<T | string> {
  try {
    return await make();
  } catch (e) {
    return (e as Error).message.replace(/\s+/g, " ").slice(0, 300);
  }
}

/** Runs a setup command; null when it worked, else why not, in one line. */
export async function failed(argv: string[], timeoutMs = 120_000): Promise<string | null> {
  try {
    await sh(argv, { timeoutMs });
    return null;
  } catch (e) {
    return (e as Error).message.replace(/\s+/g, " ").slice(0, 300);
  }
}

const memo = new Map<string, Promise<unknown>>();

function once<T>(ctx: Context, key: string, make: () => Promise<T>): Promise<T> {
  const k = `${ctx.work}:${key}`;
  let p = memo.get(k) as Promise<T> | undefined;
  if (!p) {
    p = make();
    memo.set(k, p);
    // A failed setup is retried by the next group rather than cached.
    p.catch(() => memo.delete(k));
  }
  return p;
}

/** The shared busybox rootfs and its gzip tarball. */
export function workload(ctx: Context): Promise<{ rootfs: string; tar: string }> {
  return once(ctx, "workload", async () => {
    const rootfs = await busyboxRootfs(`${ctx.work}/rootfs`);
    const tar = await tarball(rootfs, `${ctx.work}/busybox.tar.gz`);
    return { rootfs, tar };
  });
}

/** An OCI archive of the workload (for ctr) and its layout (for umoci). */
export function ociImage(ctx: Context): Promise<{ layout: string; archive: string }> {
  return once(ctx, "oci", async () => {
    const { tar } = await workload(ctx);
    const layout = await ociLayout(`${ctx.work}/oci`, tar, "bench", CTR_IMAGE);
    return { layout, archive: await ociArchive(layout, `${ctx.work}/busybox-oci.tar`) };
  });
}

/** An OCI bundle running `args` on a copy of the workload's rootfs. */
export function bundle(ctx: Context, name: string, args: string[]): Promise<string> {
  return once(ctx, `bundle:${name}`, async () => {
    const { rootfs } = await workload(ctx);
    return await ociBundle(`${ctx.work}/${name}`, rootfs, args);
  });
}

/** hako, as the compiled binary and under each runtime, on one store. */
export interface Hako {
  root: string;
  /** `hako --root R` as the compiled binary, or null with `binMissing`. */
  bin: string[] | null;
  binMissing?: string;
  deno: string[] | null;
  denoMissing?: string;
  bun: string[] | null;
  bunMissing?: string;
  /** Commands the compiled binary (or the source) lists in --help. */
  commands: Set<string>;
}

/** Sets up hako's store with the workload imported. */
export function hako(ctx: Context): Promise<Hako> {
  return once(ctx, "hako", async () => {
    const root = `${ctx.work}/hako`;
    const p = ctx.peers.byId;
    const entry = (await fs.exists(`${ctx.repo}/cli.ts`))
      ? `${ctx.repo}/cli.ts`
      : `${ctx.repo}/mod.ts`;
    const h: Hako = {
      root,
      bin: p.hako.path ? [p.hako.path, "--root", root] : null,
      binMissing: missing(ctx.peers, "hako"),
      deno: p.deno.path ? [p.deno.path, "run", "-A", entry, "--root", root] : null,
      denoMissing: missing(ctx.peers, "deno"),
      bun: p.bun.path ? [p.bun.path, "run", entry, "--root", root] : null,
      bunMissing: missing(ctx.peers, "bun"),
      commands: new Set(),
    };
    const any = h.bin ?? h.deno ?? h.bun;
    if (!any) return h;
    const help = await runCommand([...any, "--help"], { timeoutMs: 60_000 });
    for (const m of help.output.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)) h.commands.add(m[1]);
    const { tar } = await workload(ctx);
    await sh([...any, "import", tar, IMAGE]);
    ctx.defer("remove hako's containers", async () => {
      const ps = await runCommand([...any, "ps", "-aq"], { timeoutMs: 60_000 });
      const ids = ps.output.split("\n").map((l) => l.trim()).filter((l) =>
        /^[0-9a-f]{6,}$/.test(l)
      );
      if (ids.length) await runCommand([...any, "rm", "-f", ...ids], { timeoutMs: 300_000 });
    });
    return h;
  });
}

/**
 * podman's argv prefix for a store of its own under `dir`. podman refuses a runroot longer
 * than 50 characters, so a long scratch path gets a short runroot in /tmp instead.
 */
export function podmanBase(ctx: Context, dir: string): string[] {
  let runroot = `${dir}/run`;
  if (runroot.length > 50) {
    let h = 0;
    for (const c of dir) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    runroot = `/tmp/hako-bench-podman-${h.toString(16)}`;
    ctx.defer(`remove ${runroot}`, () => fs.remove(runroot, { recursive: true }).catch(() => {}));
  }
  return [
    ctx.peers.byId.podman.path ?? "podman",
    "--root",
    `${dir}/storage`,
    "--runroot",
    runroot,
    "--tmpdir",
    `${dir}/tmp`,
  ];
}

/** True when root here lacks CAP_SYS_RESOURCE (cannot raise a hard rlimit). */
export async function lacksSysResource(): Promise<boolean> {
  const st = await fs.readText("/proc/self/status").catch(() => "");
  const eff = BigInt(`0x${st.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1] ?? "0"}`);
  return (eff & (1n << 24n)) === 0n;
}

/** podman on a store of its own. */
export interface Podman {
  base: string[];
  /** Flags every `podman run` here needs (the ulimits, when root lacks CAP_SYS_RESOURCE). */
  runFlags: string[];
  note?: string;
}

/** Sets up podman's private store with the workload imported. */
export function podman(ctx: Context): Promise<Podman> {
  return once(ctx, "podman", async () => {
    const dir = `${ctx.work}/podman`;
    const base = podmanBase(ctx, dir);
    const limited = await lacksSysResource();
    const runFlags = limited ? ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"] : [];
    const { tar } = await workload(ctx);
    ctx.defer("remove podman's containers and store", async () => {
      await runCommand([...base, "rm", "-af", "-t", "0"], { timeoutMs: 300_000 });
      await runCommand([...base, "system", "reset", "-f"], { timeoutMs: 300_000 });
    });
    await sh([...base, "import", tar, IMAGE]);
    return {
      base,
      runFlags,
      note: limited
        ? "--ulimit nofile=1024:1024 --ulimit nproc=4096:4096: root here lacks CAP_SYS_RESOURCE, and podman's default RLIMIT_NOFILE (1048576) is above the hard limit"
        : undefined,
    };
  });
}

async function waitUntil(what: string, ms: number, ok: () => Promise<boolean>, daemon: Daemon) {
  const end = performance.now() + ms;
  let exited = false;
  daemon.exited.then(() => exited = true);
  while (performance.now() < end) {
    if (exited) throw new Error(`${what} exited during start-up`);
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer within ${ms / 1000} s`);
}

/** A containerd started by the bench. */
export interface Containerd {
  ctr: string[];
  socket: string;
}

/** Starts containerd on its own root, state and socket; imports the workload. */
export function containerd(ctx: Context): Promise<Containerd> {
  return once(ctx, "containerd", async () => {
    const dir = `${ctx.work}/containerd`;
    await fs.mkdir(dir, { recursive: true });
    const socket = `${dir}/containerd.sock`;
    await fs.writeFile(
      `${dir}/config.toml`,
      [
        "version = 2",
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        // The CRI plugin (Kubernetes) is not needed for ctr and wants a CNI setup.
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${socket}"`,
        "[ttrpc]",
        `  address = "${socket}.ttrpc"`,
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        "",
      ].join("\n"),
    );
    const log = `${dir}/containerd.log`;
    const d = await startDaemon(
      [ctx.peers.byId.containerd.path!, "--config", `${dir}/config.toml`],
      log,
    );
    ctx.defer("stop containerd", () => d.stop());
    const ctr = [ctx.peers.byId.ctr.path!, "--address", socket];
    try {
      await waitUntil(
        "containerd",
        30_000,
        async () => (await runCommand([...ctr, "version"], { timeoutMs: 5_000 })).code === 0,
        d,
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message}: ${lastLines(await fs.readText(log).catch(() => ""), 2)}`,
      );
    }
    const { archive } = await ociImage(ctx);
    await sh([...ctr, "image", "import", archive]);
    return { ctr, socket };
  });
}

/** A dockerd started by the bench. */
export interface Docker {
  docker: string[];
  note: string;
}

const DOCKER_BRIDGE = "hakobench0";

/**
 * Starts dockerd (Debian's docker.io) on its own data root, exec root and socket, with
 * its default bridge on a bridge the bench makes and removes, and without touching the
 * host's iptables or ip_forward; imports the workload.
 */
export function docker(ctx: Context): Promise<Docker> {
  return once(ctx, "docker", async () => {
    const dir = `${ctx.work}/docker`;
    await fs.mkdir(dir, { recursive: true });
    const socket = `unix://${dir}/docker.sock`;
    const hadBridge = (await runCommand(["ip", "link", "show", DOCKER_BRIDGE])).code === 0;
    if (!hadBridge) {
      await sh(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"]);
      ctx.defer(`remove the ${DOCKER_BRIDGE} bridge`, async () => {
        await runCommand(["ip", "link", "delete", DOCKER_BRIDGE]);
      });
      await sh(["ip", "addr", "add", "172.31.250.1/24", "dev", DOCKER_BRIDGE]);
      await sh(["ip", "link", "set", DOCKER_BRIDGE, "up"]);
    }
    const log = `${dir}/dockerd.log`;
    const argv = [
      ctx.peers.byId.dockerd.path!,
      "--data-root",
      `${dir}/data`,
      "--exec-root",
      `${dir}/exec`,
      "--pidfile",
      `${dir}/docker.pid`,
      "--host",
      socket,
      "--bridge",
      DOCKER_BRIDGE,
      "--iptables=false",
      "--ip6tables=false",
      "--ip-forward=false",
      "--ip-masq=false",
    ];
    const d = await startDaemon(argv, log);
    ctx.defer("stop dockerd", () => d.stop(20_000));
    const cli = [ctx.peers.byId.docker.path!, "--host", socket];
    try {
      await waitUntil(
        "dockerd",
        60_000,
        async () => (await runCommand([...cli, "version"], { timeoutMs: 10_000 })).code === 0,
        d,
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message}: ${lastLines(await fs.readText(log).catch(() => ""), 2)}`,
      );
    }
    ctx.defer("remove docker's containers", async () => {
      const ps = await runCommand([...cli, "ps", "-aq"], { timeoutMs: 60_000 });
      const ids = ps.output.split("\n").map((l) => l.trim()).filter(Boolean);
      if (ids.length) await runCommand([...cli, "rm", "-f", ...ids], { timeoutMs: 300_000 });
    });
    const { tar } = await workload(ctx);
    await sh([...cli, "import", tar, IMAGE]);
    return {
      docker: cli,
      note: `dockerd started by the bench: ${
        argv.slice(1).join(" ")
      } (its default bridge is ${DOCKER_BRIDGE}, made and removed by the bench; no iptables rules)`,
    };
  });
}
