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
import { createBridge, getLink, linkIndex } from "./link.ts";
import type { Netlink } from "./netlink.ts";

/** What a bridge network needs on the host. */
export interface BridgeSpec {
  bridge: string;
  subnet: Subnet;
  gateway: number;
  mtu: number;
}

/** True when the bridge exists and is up. */
export function bridgeUp(nl: Netlink, name: string): boolean {
  return getLink(nl, name)?.up ?? false;
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
  createBridge(nl, b.bridge, b.mtu);
  addAddress(nl, linkIndex(nl, b.bridge)!, b.gateway, b.subnet.prefix);
  writeSmall(`/proc/sys/net/ipv4/conf/${b.bridge}/route_localnet`, "1");
  if (readSmall("/proc/sys/net/ipv4/ip_forward")?.trim() !== "1") {
    writeSmall("/proc/sys/net/ipv4/ip_forward", "1");
  }
}
