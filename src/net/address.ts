/**
 * IPv4 addresses and routes through rtnetlink: give a link its address, add a default
 * route, and list the subnets a namespace already routes (so a new network avoids them).
 *
 * @example
 * ```ts
 * addAddress(nl, idx, parseIp("172.17.0.2")!, 16);
 * addDefaultRoute(nl, parseIp("172.17.0.1")!);
 * ```
 *
 * @module
 */

import { E } from "../../ffi/mod.ts";
import { formatIp, ipBytes, type Subnet } from "./ip.ts";
import {
  AF,
  IFA,
  ifaddrmsg,
  type Netlink,
  NLM_F,
  NlMsg,
  parseAttrs,
  RTA,
  RTM,
  rtmsg,
} from "./netlink.ts";

/** The message that gives link `index` the address `ip/prefix` (with its broadcast). */
export function addressMsg(index: number, ip: number, prefix: number): NlMsg {
  const bcast = (ip | (prefix === 32 ? 0 : (0xffffffff >>> prefix))) >>> 0;
  return new NlMsg(
    RTM.NEWADDR,
    NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL,
    ifaddrmsg({ family: AF.INET, prefixLen: prefix, index }),
  ).attr(IFA.LOCAL, ipBytes(ip)).attr(IFA.ADDRESS, ipBytes(ip)).attr(IFA.BROADCAST, ipBytes(bcast));
}

/** Gives link `index` the address `ip/prefix`; the same address already there is fine. */
export function addAddress(nl: Netlink, index: number, ip: number, prefix: number): void {
  nl.request(addressMsg(index, ip, prefix), `add address ${formatIp(ip)}/${prefix}`, [E.EEXIST]);
}

/** The message for a default route through `gateway`. */
export function defaultRouteMsg(gateway: number): NlMsg {
  return new NlMsg(
    RTM.NEWROUTE,
    NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL,
    rtmsg({ family: AF.INET, dstLen: 0 }),
  ).attr(RTA.GATEWAY, ipBytes(gateway));
}

/** Adds a default route through `gateway`. */
export function addDefaultRoute(nl: Netlink, gateway: number): void {
  nl.request(defaultRouteMsg(gateway), `add default route via ${formatIp(gateway)}`);
}

/** The IPv4 destinations of the main routing table, except the default route. */
export function routedSubnets(nl: Netlink): Subnet[] {
  const m = new NlMsg(
    RTM.GETROUTE,
    NLM_F.REQUEST | NLM_F.DUMP,
    rtmsg({ family: AF.INET, dstLen: 0 }),
  );
  const out: Subnet[] = [];
  for (const r of nl.request(m, "list routes")) {
    if (r.type !== RTM.NEWROUTE) continue;
    const prefix = r.body[1], table = r.body[4];
    if (prefix === 0 || (table !== 254 && table !== 255)) continue;
    const dst = parseAttrs(r.body, 12).get(RTA.DST);
    if (!dst || dst.length < 4) continue;
    const base = ((dst[0] << 24) | (dst[1] << 16) | (dst[2] << 8) | dst[3]) >>> 0;
    // Skip host routes of local addresses in the local table (they overlap their subnet).
    if (table === 255 && prefix === 32) continue;
    out.push({ base, prefix });
  }
  return out;
}
