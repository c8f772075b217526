/**
 * Network links through rtnetlink: bridges, veth pairs (one end created directly inside a
 * container's network namespace), bringing links up, deleting and listing them.
 *
 * @example
 * ```ts
 * const nl = Netlink.open();
 * createBridge(nl, "hako0", 1500);
 * createVeth(nl, { name: "hk1234", master: linkIndex(nl, "hako0")!, mtu: 1500,
 *   peer: { name: "eth0", nsPid: pid, mac: "02:42:ac:11:00:02" } });
 * ```
 *
 * @module
 */

import { E } from "../../ffi/mod.ts";
import { macBytes } from "./ip.ts";
import {
  AF,
  attrStr,
  attrU32,
  IFF,
  ifinfomsg,
  IFLA,
  IFLA_INFO,
  type Netlink,
  NLM_F,
  NlMsg,
  parseAttrs,
  RTM,
  VETH_INFO_PEER,
} from "./netlink.ts";

/** A link as a dump reports it. */
export interface LinkInfo {
  index: number;
  name: string;
  kind?: string;
  master?: number;
  mtu?: number;
  /** IFLA_IFALIAS: hako marks its bridges with their store (bridge.ts). */
  alias?: string;
  up: boolean;
}

/** Longest interface name the kernel takes (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** The index of the link `name`, or null when there is none. */
export function linkIndex(nl: Netlink, name: string): number | null {
  const m = new NlMsg(RTM.GETLINK, NLM_F.REQUEST, ifinfomsg({})).str(IFLA.IFNAME, name);
  try {
    const [r] = nl.request(m, `look up link ${name}`);
    return r ? new DataView(r.body.buffer, r.body.byteOffset).getInt32(4, true) : null;
  } catch (e) {
    if ((e as { errno?: number }).errno === E.ENODEV) return null;
    throw e;
  }
}

/** The details of link `name`, or null. */
export function getLink(nl: Netlink, name: string): LinkInfo | null {
  const m = new NlMsg(RTM.GETLINK, NLM_F.REQUEST, ifinfomsg({})).str(IFLA.IFNAME, name);
  try {
    const [r] = nl.request(m, `look up link ${name}`);
    return r ? parseLink(r.body) : null;
  } catch (e) {
    if ((e as { errno?: number }).errno === E.ENODEV) return null;
    throw e;
  }
}

/** Every link of the socket's network namespace. */
export function listLinks(nl: Netlink): LinkInfo[] {
  const m = new NlMsg(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, ifinfomsg({}));
  return nl.request(m, "list links").filter((r) => r.type === RTM.NEWLINK).map((r) =>
    parseLink(r.body)
  );
}

function parseLink(body: Uint8Array): LinkInfo {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const a = parseAttrs(body, 16);
  const info = a.get(IFLA.LINKINFO);
  return {
    index: v.getInt32(4, true),
    name: attrStr(a.get(IFLA.IFNAME)) ?? "",
    kind: info ? attrStr(parseAttrs(info, 0).get(IFLA_INFO.KIND)) : undefined,
    master: attrU32(a.get(IFLA.MASTER)),
    mtu: attrU32(a.get(IFLA.MTU)),
    alias: attrStr(a.get(IFLA.IFALIAS)),
    up: (v.getUint32(8, true) & IFF.UP) !== 0,
  };
}

/**
 * Creates a bridge, up, with `mtu` and an alias (ifalias); an existing link of that name is
 * kept (EEXIST).
 */
export function createBridge(nl: Netlink, name: string, mtu?: number, alias?: string): void {
  const m = new NlMsg(
    RTM.NEWLINK,
    NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL,
    ifinfomsg({ flags: IFF.UP, change: IFF.UP }),
  ).str(IFLA.IFNAME, name);
  if (mtu) m.u32(IFLA.MTU, mtu);
  m.begin(IFLA.LINKINFO).str(IFLA_INFO.KIND, "bridge").end();
  nl.request(m, `create bridge ${name}`, [E.EEXIST]);
  // The create path ignores IFLA_IFALIAS (only a change sets it) and the up flag of an
  // existing bridge: one more request does both.
  const up = upMsg(name);
  if (alias) up.str(IFLA.IFALIAS, alias);
  nl.request(up, `bring up bridge ${name}`);
}

/** The container end of a veth pair. */
export interface VethPeer {
  /** Name inside the namespace (eth0). */
  name: string;
  /** A process whose network namespace receives this end. */
  nsPid?: number;
  /** An open network-namespace fd that receives this end (instead of nsPid). */
  nsFd?: number;
  /** aa:bb:cc:dd:ee:ff. */
  mac?: string;
}

/**
 * Creates a veth pair in one request: the host end `name` enslaved to bridge `master` and
 * up, the peer created directly in the container's namespace (never visible on the host,
 * so it cannot leak there) with its MAC.
 */
export function createVeth(
  nl: Netlink,
  o: { name: string; master?: number; mtu?: number; peer: VethPeer },
): void {
  const m = new NlMsg(
    RTM.NEWLINK,
    NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL,
    ifinfomsg({ flags: IFF.UP, change: IFF.UP }),
  ).str(IFLA.IFNAME, o.name);
  if (o.mtu) m.u32(IFLA.MTU, o.mtu);
  if (o.master) m.u32(IFLA.MASTER, o.master);
  m.begin(IFLA.LINKINFO).str(IFLA_INFO.KIND, "veth").begin(IFLA_INFO.DATA);
  // The peer cannot be created up: veth_open() refuses (ENOTCONN) until both ends are
  // linked, which happens after the peer is configured. It is brought up from inside.
  m.begin(VETH_INFO_PEER).raw(ifinfomsg({}));
  m.str(IFLA.IFNAME, o.peer.name);
  if (o.mtu) m.u32(IFLA.MTU, o.mtu);
  if (o.peer.mac) m.attr(IFLA.ADDRESS, macBytes(o.peer.mac));
  if (o.peer.nsFd !== undefined) m.u32(IFLA.NET_NS_FD, o.peer.nsFd);
  else if (o.peer.nsPid !== undefined) m.u32(IFLA.NET_NS_PID, o.peer.nsPid);
  m.end().end().end();
  nl.request(m, `create veth pair ${o.name} / ${o.peer.name}`);
}

/** The message that brings link `name` (or index `index`) up. */
export function upMsg(name: string, index = 0): NlMsg {
  const m = new NlMsg(
    RTM.NEWLINK,
    NLM_F.REQUEST,
    ifinfomsg({ index, flags: IFF.UP, change: IFF.UP }),
  );
  return index ? m : m.str(IFLA.IFNAME, name);
}

/** Brings link `name` up. */
export function setUp(nl: Netlink, name: string): void {
  nl.request(upMsg(name), `bring up link ${name}`);
}

/** Deletes link `name` (a veth takes its peer with it); a missing link is fine. */
export function deleteLink(nl: Netlink, name: string): void {
  const m = new NlMsg(RTM.DELLINK, NLM_F.REQUEST, ifinfomsg({ family: AF.UNSPEC }))
    .str(IFLA.IFNAME, name);
  nl.request(m, `delete link ${name}`, [E.ENODEV]);
}
