/**
 * The programs the bench compares hako with, where they were found, their versions, and
 * how to get a missing one. `--setup` installs the missing Debian packages (after saying
 * which) and fetches the VM kernel into the cache.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { kernelStatus, setupKernel } from "./vm.ts";
import { runCommand, sh, which } from "./proc.ts";

/** A program the bench may use. */
export interface PeerSpec {
  id: string;
  /** Program name looked up on PATH, or an absolute path (`{repo}` is the repository). */
  bin: string;
  /** The Debian package that provides it. */
  pkg?: string;
  /** How to get it when there is no Debian package for it. */
  how?: string;
  /** What the bench uses it for. */
  role: string;
  /** Arguments that print its version on the first line. */
  version?: string[];
}

const QEMU = "qemu-system-x86_64";

/** Every program the bench knows. */
export const PEER_SPECS: PeerSpec[] = [
  {
    id: "hako",
    bin: "{repo}/dist/hako",
    how: "deno task build",
    role: "the compiled hako binary",
    version: ["--version"],
  },
  {
    id: "deno",
    bin: "{repo}/node_modules/.bin/deno",
    how: "npm install (in the repository)",
    role: "hako under deno run",
    version: ["--version"],
  },
  {
    id: "bun",
    bin: "{repo}/node_modules/.bin/bun",
    how: "npm install (in the repository)",
    role: "hako under bun run",
    version: ["--version"],
  },
  {
    id: "busybox",
    bin: "/bin/busybox",
    pkg: "busybox-static",
    role: "the container and initramfs root filesystem",
  },
  {
    id: "tar",
    bin: "tar",
    pkg: "tar",
    role: "building images; the GNU tar unpack row",
    version: ["--version"],
  },
  {
    id: "unshare",
    bin: "unshare",
    pkg: "util-linux",
    role: "the namespace floor row",
    version: ["--version"],
  },
  { id: "crun", bin: "crun", pkg: "crun", role: "crun run / crun exec", version: ["--version"] },
  { id: "runc", bin: "runc", pkg: "runc", role: "runc run", version: ["--version"] },
  {
    id: "podman",
    bin: "podman",
    pkg: "podman",
    role: "podman run / exec / build, density",
    version: ["--version"],
  },
  {
    id: "containerd",
    bin: "containerd",
    pkg: "containerd",
    role: "the daemon behind ctr run",
    version: ["--version"],
  },
  { id: "ctr", bin: "ctr", pkg: "containerd", role: "ctr run --rm", version: ["--version"] },
  {
    id: "dockerd",
    bin: "dockerd",
    pkg: "docker.io",
    role: "the daemon behind docker run",
    version: ["--version"],
  },
  {
    id: "docker",
    bin: "docker",
    pkg: "docker.io",
    role: "docker run --rm",
    version: ["--version"],
  },
  {
    id: "qemu",
    bin: QEMU,
    pkg: "qemu-system-x86",
    role: "the VM rows (-M microvm, -M pc)",
    version: ["--version"],
  },
  { id: "umoci", bin: "umoci", pkg: "umoci", role: "the umoci unpack row", version: ["--version"] },
  {
    id: "rsvg-convert",
    bin: "rsvg-convert",
    pkg: "librsvg2-bin",
    role: "renders startup.svg to startup.png (optional)",
    version: ["--version"],
  },
];

/** A peer as found on this host. */
export interface Peer {
  spec: PeerSpec;
  /** Where it is, or null when missing. */
  path: string | null;
  version: string | null;
}

/** The peers found (or not) and the VM kernel's state. */
export interface Peers {
  byId: Record<string, Peer>;
  /** The extracted VM kernel (vmlinuz), or null with `kernelMissing` saying why. */
  kernel: string | null;
  kernelVersion: string | null;
  kernelMissing?: string;
}

/** Finds every peer; `repo` replaces `{repo}` in paths. */
export async function discoverPeers(repo: string, cache: string): Promise<Peers> {
  const found: Record<string, Peer> = {};
  await Promise.all(PEER_SPECS.map(async (spec) => {
    const path = await which(spec.bin.replace("{repo}", repo));
    let version: string | null = null;
    if (path && spec.version) {
      const r = await runCommand([path, ...spec.version], { timeoutMs: 20_000 });
      version = r.code === 0 ? firstVersionLine(r.output) : null;
    }
    found[spec.id] = { spec, path, version };
  }));
  const byId = Object.fromEntries(PEER_SPECS.map((s) => [s.id, found[s.id]]));
  const k = await kernelStatus(cache);
  return { byId, kernel: k.path, kernelVersion: k.version, kernelMissing: k.missing };
}

function firstVersionLine(out: string): string {
  return out.split("\n").map((l) => l.trim()).find(Boolean)?.slice(0, 120) ?? "";
}

/** "not found: apt-get install crun (or deno task bench --setup)". */
export function howToGet(spec: PeerSpec): string {
  if (spec.pkg) {
    return `${spec.bin} not found: apt-get install ${spec.pkg} (or deno task bench --setup)`;
  }
  return `${spec.bin.replace("{repo}/", "")} not found: ${spec.how}`;
}

/** The path of a peer, or throws the "not found: how to get it" sentence. */
export function need(peers: Peers, id: string): string {
  const p = peers.byId[id];
  if (!p?.path) throw new Missing(howToGet(p?.spec ?? { id, bin: id, role: "", how: "?" }));
  return p.path;
}

/** Why a peer needed by a row is missing (the row shows the message). */
export class Missing extends Error {}

/** The first missing peer among `ids`, as a skip reason, or undefined when all are there. */
export function missing(peers: Peers, ...ids: string[]): string | undefined {
  for (const id of ids) {
    const p = peers.byId[id];
    if (!p?.path) return howToGet(p.spec);
  }
  return undefined;
}

/** Lines for `--list`: every peer found or missing, with how to get it. */
export function listPeers(peers: Peers): string[] {
  const w = Math.max(...PEER_SPECS.map((s) => s.id.length));
  const lines = PEER_SPECS.map((s) => {
    const p = peers.byId[s.id];
    const state = p.path
      ? `found  ${p.path}${p.version ? ` (${p.version})` : ""}`
      : `missing: ${howToGet(s).replace(/^.* not found: /, "")}`;
    return `  ${s.id.padEnd(w)}  ${state}  — ${s.role}`;
  });
  lines.push(
    `  ${"kernel".padEnd(w)}  ${
      peers.kernel ? `found  ${peers.kernel}` : `missing: ${peers.kernelMissing}`
    }  — the VM rows' guest kernel (Debian's linux-image-cloud-amd64)`,
  );
  return lines;
}

/**
 * Installs the missing Debian packages and fetches the VM kernel. Says what it will do
 * first; keeps services from starting on install (policy-rc.d), so no system dockerd or
 * containerd appears: the bench starts its own on private sockets.
 */
export async function setup(peers: Peers, cache: string, log: (s: string) => void): Promise<void> {
  const pkgs = [
    ...new Set(PEER_SPECS.filter((s) => s.pkg && !peers.byId[s.id].path).map((s) => s.pkg!)),
  ];
  const apt = await which("apt-get");
  if (pkgs.length === 0) log("setup: every Debian package the bench uses is installed");
  else if (!apt) {
    log(`setup: no apt-get here; install these packages by hand: ${pkgs.join(" ")}`);
  } else {
    log(`setup: will install with apt-get: ${pkgs.join(" ")}`);
    const policy = "/usr/sbin/policy-rc.d";
    const madePolicy = !(await fs.exists(policy));
    if (madePolicy) {
      // Debian starts a package's daemon on install unless policy-rc.d says no (exit 101).
      await fs.writeFile(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    }
    try {
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      const update = await runCommand([apt, "update"], { env, timeoutMs: 600_000 });
      if (update.code !== 0) log(`setup: apt-get update failed; trying the install anyway`);
      await sh([apt, "install", "-y", "--no-install-recommends", ...pkgs], { env });
      log(`setup: installed ${pkgs.join(" ")}`);
    } finally {
      if (madePolicy) await fs.remove(policy);
    }
  }
  if (peers.kernel) log(`setup: VM kernel already in ${peers.kernel}`);
  else {
    log(
      "setup: will download (not install) linux-image-cloud-amd64 and the kernel package it " +
        `depends on with apt-get download, and extract vmlinuz into ${cache}/kernel`,
    );
    const k = await setupKernel(cache, log);
    log(`setup: VM kernel ${k}`);
  }
}
