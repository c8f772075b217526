/**
 * What peers change on the host as a side effect and the bench puts back: netavark's and
 * docker's iptables chains, their bridges, net.ipv4.ip_forward (netavark sets it to 1), and
 * the empty parent cgroups podman, dockerd and containerd leave on cgroupfs hosts.
 * Only what appeared during the bench and belongs to a known peer is removed, so a change
 * someone else made meanwhile is left alone.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { rmdirSmall } from "../ffi/kfs.ts";
import { runCommand, which } from "./proc.ts";

const CHAIN = /^(NETAVARK|CNI-|DOCKER|PODMAN)/;
const LINKS = ["podman0", "cni-podman0", "docker0"];
const FORWARD = "/proc/sys/net/ipv4/ip_forward";
/** Parent cgroups peers make and leave behind (empty) on cgroupfs hosts. */
const CGROUPS = ["libpod_parent", "docker", "default", "machine.slice"];
const CGROUP_ROOT = "/sys/fs/cgroup";

/** A snapshot taken before the bench; `restore` undoes what peers added since. */
export interface HostGuard {
  /** Puts things back; returns one line per change made. */
  restore(): Promise<string[]>;
}

async function chains(iptables: string, table: string): Promise<string[]> {
  const r = await runCommand([iptables, "-t", table, "-S"], { timeoutMs: 30_000, full: true });
  return r.code === 0 ? r.output.split("\n") : [];
}

async function links(): Promise<Set<string>> {
  const r = await runCommand(["ip", "-o", "link", "show"], { timeoutMs: 30_000, full: true });
  return new Set([...r.output.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]));
}

/** Takes the snapshot. */
export async function hostGuard(): Promise<HostGuard> {
  const forward = (await fs.readText(FORWARD).catch(() => "")).trim();
  const tools = (await Promise.all(["iptables", "ip6tables"].map(which))).filter((t): t is string =>
    !!t
  );
  const before = new Map<string, Set<string>>();
  for (const t of tools) {
    for (const table of ["filter", "nat"]) {
      const names = (await chains(t, table)).filter((l) => l.startsWith("-N ")).map((l) =>
        l.slice(3)
      );
      before.set(`${t} ${table}`, new Set(names));
    }
  }
  const linksBefore = await links();
  const cgroupsBefore = await parentCgroups();
  return {
    async restore() {
      const done: string[] = [];
      for (const t of tools) {
        for (const table of ["filter", "nat"]) {
          const rules = await chains(t, table);
          const had = before.get(`${t} ${table}`) ?? new Set();
          const added = rules.filter((l) => l.startsWith("-N ")).map((l) => l.slice(3))
            .filter((c) => CHAIN.test(c) && !had.has(c));
          if (!added.length) continue;
          // Jumps into the new chains from chains that were there before go first.
          for (const l of rules) {
            const m = l.match(/^-A (\S+) (.*)-j (\S+)/);
            if (m && added.includes(m[3]) && !added.includes(m[1])) {
              await runCommand([t, "-t", table, ...splitRule(l.replace(/^-A/, "-D"))]);
            }
          }
          for (const c of added) await runCommand([t, "-t", table, "-F", c]);
          for (const c of added) await runCommand([t, "-t", table, "-X", c]);
          done.push(`removed ${t} ${table} chains a peer added: ${added.join(", ")}`);
        }
      }
      const now = await links();
      for (const l of LINKS) {
        if (now.has(l) && !linksBefore.has(l)) {
          await runCommand(["ip", "link", "delete", l]);
          done.push(`removed the ${l} bridge a peer added`);
        }
      }
      let removed = 0;
      for (const dir of await parentCgroups()) {
        if (!cgroupsBefore.has(dir)) removed += await removeEmptyCgroup(dir);
      }
      if (removed) {
        done.push(`removed ${removed} empty cgroup(s) peers left under ${CGROUPS.join(", ")}`);
      }
      const fwd = (await fs.readText(FORWARD).catch(() => "")).trim();
      if (forward && fwd !== forward) {
        await fs.writeFile(FORWARD, forward + "\n").catch(() => {});
        done.push(`set net.ipv4.ip_forward back to ${forward} (a peer set it to ${fwd})`);
      }
      return done;
    },
  };
}

/** The known peer parent cgroups present in every hierarchy under /sys/fs/cgroup. */
async function parentCgroups(): Promise<Set<string>> {
  const out = new Set<string>();
  const roots = [
    CGROUP_ROOT,
    ...(await fs.readDir(CGROUP_ROOT).catch(() => [] as string[])).map((h) =>
      `${CGROUP_ROOT}/${h}`
    ),
  ];
  for (const root of roots) {
    for (const name of CGROUPS) {
      if ((await fs.stat(`${root}/${name}`))?.isDirectory) out.add(`${root}/${name}`);
    }
  }
  return out;
}

/** rmdir of a cgroup and its children, deepest first; a busy one stays. Returns how many went. */
async function removeEmptyCgroup(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readDir(dir).catch(() => [] as string[])) {
    if ((await fs.lstat(`${dir}/${e}`))?.isDirectory) n += await removeEmptyCgroup(`${dir}/${e}`);
  }
  try {
    rmdirSmall(dir);
    n++;
  } catch { /* still in use: leave it */ }
  return n;
}

/** Splits an iptables -S line into arguments (it quotes comments with double quotes). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}
