/**
 * What peers change on the host as a side effect and the bench puts back: netavark's and
 * docker's iptables chains, their bridges, and net.ipv4.ip_forward (netavark sets it to 1).
 * Only what appeared during the bench and belongs to a known peer is removed, so a change
 * someone else made meanwhile is left alone.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { runCommand, which } from "./proc.ts";

const CHAIN = /^(NETAVARK|CNI-|DOCKER|PODMAN)/;
const LINKS = ["podman0", "cni-podman0", "docker0"];
const FORWARD = "/proc/sys/net/ipv4/ip_forward";

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
      const fwd = (await fs.readText(FORWARD).catch(() => "")).trim();
      if (forward && fwd !== forward) {
        await fs.writeFile(FORWARD, forward + "\n").catch(() => {});
        done.push(`set net.ipv4.ip_forward back to ${forward} (a peer set it to ${fwd})`);
      }
      return done;
    },
  };
}

/** Splits an iptables -S line into arguments (it quotes comments with double quotes). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}
