/**
 * A network's bridge on the host: created with the gateway address (which also gives the
 * host its route to the subnet), brought up, with `route_localnet` so DNAT from the host's
 * loopback can leave through it, and IPv4 forwarding on so containers reach the outside.
 *
 * @example
 * ```ts
 * setupBridge(nl, { bridge: "hako0", subnet: parseSubnet("172.17.0.0/16"),
 *   gateway: parseIp("172.17.0.1")!, mtu: 1500 });
 * ```
 *
 * @module
 */

import { readSmall, writeSmall } from "../../ffi/kfs.ts";
import { ConflictError } from "../errors.ts";
import { addAddress, routedSubnets } from "./address.ts";
import { formatSubnet, overlaps, type Subnet } from "./ip.ts";
import { createBridge, linkIndex, listLinks } from "./link.ts";
import * as fs from "../../ffi/fs.ts";
import type { Netlink } from "./netlink.ts";

/** What a bridge network needs on the host. */
export interface BridgeSpec {
  bridge: string;
  subnet: Subnet;
  gateway: number;
  mtu: number;
  /** The store root and network name, kept in the bridge's ifalias (see staleBridges). */
  root?: string;
  network?: string;
}

const ALIAS = "hako:";

/** The ifalias that ties a bridge to its store: `hako:<network>:<root>`. */
export function bridgeAlias(root: string, network: string): string {
  return `${ALIAS}${network}:${root}`;
}

/**
 * hako bridges whose network record is gone (a store deleted without removing its
 * networks, e.g. a test root): the bridge and the store root it belonged to.
 */
export async function staleBridges(nl: Netlink): Promise<{ name: string; root: string }[]> {
  const out: { name: string; root: string }[] = [];
  for (const l of listLinks(nl)) {
    if (l.kind !== "bridge" || !l.alias?.startsWith(ALIAS)) continue;
    const rest = l.alias.slice(ALIAS.length);
    const i = rest.indexOf(":");
    const network = rest.slice(0, i), root = rest.slice(i + 1);
    if (i <= 0 || !root) continue;
    if (!(await fs.exists(`${root}/networks/${network}.json`))) out.push({ name: l.name, root });
  }
  return out;
}

/**
 * The bridge's interface index when it exists and is up, else null. Read from sysfs, which
 * takes no RTNL lock: on a busy host every rtnetlink request waits for that global lock.
 */
export function bridgeIndex(name: string): number | null {
  const flags = readSmall(`/sys/class/net/${name}/flags`);
  if (flags === null || !(parseInt(flags, 16) & 1)) return null;
  return Number(readSmall(`/sys/class/net/${name}/ifindex`)) || null;
}

/**
 * Creates the bridge (an existing one is kept), gives it the gateway address and turns on
 * what published ports and egress need. Refuses a subnet another route already covers.
 */
export function setupBridge(nl: Netlink, b: BridgeSpec): void {
  const exists = linkIndex(nl, b.bridge) !== null;
  if (!exists) {
    for (const t of routedSubnets(nl)) {
      if (overlaps(t, b.subnet)) {
        throw new ConflictError(
          `set up bridge ${b.bridge}: its subnet ${formatSubnet(b.subnet)} overlaps ${
            formatSubnet(t)
          }, already routed on this host`,
        );
      }
    }
  }
  createBridge(nl, b.bridge, b.mtu, b.root ? bridgeAlias(b.root, b.network ?? "") : undefined);
  addAddress(nl, linkIndex(nl, b.bridge)!, b.gateway, b.subnet.prefix);
  writeSmall(`/proc/sys/net/ipv4/conf/${b.bridge}/route_localnet`, "1");
  if (readSmall("/proc/sys/net/ipv4/ip_forward")?.trim() !== "1") {
    writeSmall("/proc/sys/net/ipv4/ip_forward", "1");
  }
}
