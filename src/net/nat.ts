/**
 * Egress masquerade and published-port DNAT through the host's nftables (preferred) or
 * iptables. The rules of one store live in their own nft table (or iptables chains), and
 * every change regenerates that table from the store's state in one atomic transaction:
 * the rules always equal the networks and running containers hako knows, so a rule of a
 * container that is gone disappears at the next change, whoever made it.
 *
 * Per network: `ip saddr SUBNET oifname != BRIDGE masquerade` (egress) and
 * `ip saddr 127.0.0.0/8 oifname BRIDGE masquerade` (host loopback reaching a published
 * port, with route_localnet on the bridge). Per published port: DNAT in prerouting (other
 * hosts, host addresses) and output (the host itself, loopback included), both only for
 * destinations that are local addresses of the host.
 *
 * @module
 */

import { env } from "../../ffi/host.ts";
import { HakoError } from "../errors.ts";
import { findProgram, runCommand } from "./command.ts";
import { formatIp, formatSubnet, type Subnet } from "./ip.ts";

/** One network's masquerade rules. */
export interface NatNetwork {
  bridge: string;
  subnet: Subnet;
  /** No egress (docker network create --internal). */
  internal?: boolean;
}

/** One published port. */
export interface NatPort {
  /** Host address to match ("" or 0.0.0.0 = any local address). */
  hostIp: string;
  hostPort: number;
  proto: "tcp" | "udp";
  /** Container address and port. */
  ip: number;
  port: number;
}

/** Everything the store's NAT table should hold. */
export interface NatState {
  networks: NatNetwork[];
  ports: NatPort[];
}

/** A firewall the rules go through. */
export interface NatBackend {
  readonly name: "nftables" | "iptables";
  /** Replaces the store's rules by `state` in one transaction. */
  apply(state: NatState): Promise<void>;
  /** Removes the store's table or chains entirely. */
  remove(): Promise<void>;
}

/** No nft or iptables on this host: a clear error when NAT is needed. */
export class NatUnavailableError extends HakoError {
  override exitCode = 125;
}

function fail(tool: string, what: string, stderr: string): never {
  throw new HakoError(`${what}: ${tool} failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`);
}

/** nftables: one `table ip <name>` per store, rebuilt atomically by `nft -f -`. */
export class Nftables implements NatBackend {
  readonly name = "nftables";
  constructor(readonly nft: string, readonly table: string) {}

  script(s: NatState): string {
    const t = this.table;
    const lines = [
      `add table ip ${t}`,
      `delete table ip ${t}`,
      `table ip ${t} {`,
      `  chain prerouting { type nat hook prerouting priority dstnat; policy accept;`,
      ...s.ports.map((p) => `    ${this.#dnat(p)}`),
      `  }`,
      `  chain output { type nat hook output priority -100; policy accept;`,
      ...s.ports.map((p) => `    ${this.#dnat(p)}`),
      `  }`,
      `  chain postrouting { type nat hook postrouting priority srcnat; policy accept;`,
      ...s.networks.flatMap((n) => [
        ...(n.internal
          ? []
          : [`    ip saddr ${formatSubnet(n.subnet)} oifname != "${n.bridge}" masquerade`]),
        `    ip saddr 127.0.0.0/8 oifname "${n.bridge}" masquerade`,
      ]),
      `  }`,
      `}`,
    ];
    return lines.join("\n") + "\n";
  }

  #dnat(p: NatPort): string {
    const daddr = p.hostIp && p.hostIp !== "0.0.0.0" ? `ip daddr ${p.hostIp} ` : "";
    return `fib daddr type local ${daddr}${p.proto} dport ${p.hostPort} dnat to ${
      formatIp(p.ip)
    }:${p.port}`;
  }

  async apply(s: NatState): Promise<void> {
    const r = await runCommand([this.nft, "-f", "-"], this.script(s));
    if (r.code !== 0) fail("nft", `update NAT table ${this.table}`, r.stderr);
  }

  async remove(): Promise<void> {
    const t = this.table;
    const r = await runCommand([this.nft, "-f", "-"], `add table ip ${t}\ndelete table ip ${t}\n`);
    if (r.code !== 0) fail("nft", `remove NAT table ${t}`, r.stderr);
  }
}

/** iptables: chains <PREFIX>-PRE/-OUT/-POST in the nat table, rebuilt by iptables-restore. */
export class Iptables implements NatBackend {
  readonly name = "iptables";
  constructor(readonly iptables: string, readonly restore: string, readonly prefix: string) {}

  #chains() {
    const p = this.prefix;
    return [["PREROUTING", `${p}-PRE`], ["OUTPUT", `${p}-OUT`], ["POSTROUTING", `${p}-POST`]];
  }

  script(s: NatState): string {
    const [[, pre], [, out], [, post]] = this.#chains();
    const dnat = (chain: string, p: NatPort) =>
      `-A ${chain} -m addrtype --dst-type LOCAL${
        p.hostIp && p.hostIp !== "0.0.0.0" ? ` -d ${p.hostIp}/32` : ""
      } -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${
        formatIp(p.ip)
      }:${p.port}`;
    return [
      "*nat",
      `:${pre} - [0:0]`,
      `:${out} - [0:0]`,
      `:${post} - [0:0]`,
      ...s.ports.map((p) => dnat(pre, p)),
      ...s.ports.map((p) => dnat(out, p)),
      ...s.networks.flatMap((n) => [
        ...(n.internal
          ? []
          : [`-A ${post} -s ${formatSubnet(n.subnet)} ! -o ${n.bridge} -j MASQUERADE`]),
        `-A ${post} -s 127.0.0.0/8 -o ${n.bridge} -j MASQUERADE`,
      ]),
      "COMMIT",
      "",
    ].join("\n");
  }

  async apply(s: NatState): Promise<void> {
    const r = await runCommand([this.restore, "--noflush", "-w"], this.script(s));
    if (r.code !== 0) fail("iptables-restore", "update NAT chains", r.stderr);
    for (const [hook, chain] of this.#chains()) {
      const check = await runCommand([this.iptables, "-w", "-t", "nat", "-C", hook, "-j", chain]);
      if (check.code === 0) continue;
      const add = await runCommand([this.iptables, "-w", "-t", "nat", "-I", hook, "-j", chain]);
      if (add.code !== 0) fail("iptables", `hook ${chain} into ${hook}`, add.stderr);
    }
  }

  async remove(): Promise<void> {
    for (const [hook, chain] of this.#chains()) {
      while (
        (await runCommand([this.iptables, "-w", "-t", "nat", "-D", hook, "-j", chain])).code === 0
      );
      await runCommand([this.iptables, "-w", "-t", "nat", "-F", chain]);
      await runCommand([this.iptables, "-w", "-t", "nat", "-X", chain]);
    }
  }
}

/**
 * The NAT backend of this host for a store whose rules are named `tag`: nftables when `nft`
 * is installed, else iptables; HAKO_NAT=nftables|iptables forces one. Throws
 * NatUnavailableError naming both tools when neither exists.
 */
export async function natBackend(tag: string): Promise<NatBackend> {
  const want = env("HAKO_NAT");
  if (want !== "iptables") {
    const nft = await findProgram("nft");
    if (nft) return new Nftables(nft, tag);
    if (want === "nftables") {
      throw new NatUnavailableError(
        "set up NAT: HAKO_NAT=nftables but the nft program is not installed (apt-get install nftables)",
      );
    }
  }
  const ipt = await findProgram("iptables");
  const restore = await findProgram("iptables-restore");
  if (ipt && restore) return new Iptables(ipt, restore, tag.toUpperCase().replace(/_/g, "-"));
  throw new NatUnavailableError(
    "set up NAT for container networking: neither nft (nftables) nor iptables is installed; install one (apt-get install nftables) or use --network none or host",
  );
}
