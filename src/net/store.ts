/**
 * Network records: one JSON file per network in Docker's `network inspect` shape under
 * `<root>/networks/<name>.json`, plus the predefined `host` and `none` (never stored). The
 * default `bridge` network is written on first use with a subnet no route on the host
 * uses yet. Live state (addresses in use) is kept apart, under the state root (ipam.ts).
 *
 * Bridge and NAT names are per store so several stores (tests) can share one host: the
 * default store uses `hako0` and nft table `hako`; another root gets `hk-<hash>` and
 * `hako_<hash>`.
 *
 * @module
 */

import * as fs from "../../ffi/fs.ts";
import { withFileLock } from "../../ffi/lock.ts";
import { readSmall } from "../../ffi/kfs.ts";
import type { Paths } from "../engine/paths.ts";
import { ConflictError, NotFoundError, UsageError } from "../errors.ts";
import { routedSubnets } from "./address.ts";
import { formatIp, formatSubnet, overlaps, parseIp, parseSubnet, type Subnet } from "./ip.ts";
import { deleteLink, IFNAME_MAX, listLinks } from "./link.ts";
import { type BridgeSpec, setupBridge, staleBridges } from "./bridge.ts";
import { Netlink } from "./netlink.ts";
import { AF, NLM_F, NlMsg, parseAttrs, RTA, RTM, rtmsg } from "./netlink.ts";
import { attrU32 } from "./netlink.ts";

/** A network as `hako network inspect` shows it. */
export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: "bridge" | "host" | "null";
  EnableIPv6: boolean;
  IPAM: { Driver: "default"; Options: Record<string, string>; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, unknown>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** One subnet of a network. */
export interface IpamConfig {
  Subnet: string;
  Gateway: string;
}

/** The option key that names a network's bridge (Docker's). */
export const BRIDGE_NAME = "com.docker.network.bridge.name";
/** The option key of a network's MTU (Docker's). */
export const MTU = "com.docker.network.driver.mtu";

/** Names Docker reserves for its predefined networks. */
export const PREDEFINED = ["bridge", "host", "none"];

/** A 32-bit FNV-1a hash as 8 hex digits (stable per store root). */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

function isDefaultRoot(paths: Paths): boolean {
  return paths.root === "/var/lib/hako";
}

/** The name of this store's NAT table (nft) or chain prefix (iptables). */
export function natTag(paths: Paths | { root: string }): string {
  return paths.root === "/var/lib/hako" ? "hako" : `hako_${shortHash(paths.root)}`;
}

/** Directory of the network records. */
export function networksDir(paths: Paths): string {
  return `${paths.root}/networks`;
}

/** The subnet, gateway and bridge of a bridge network. */
export function bridgeOf(n: Network, paths?: Paths): BridgeSpec {
  const cfg = n.IPAM.Config[0];
  const subnet = parseSubnet(cfg.Subnet);
  const gateway = parseIp(cfg.Gateway) ?? (subnet.base + 1);
  return {
    subnet,
    gateway,
    bridge: n.Options[BRIDGE_NAME],
    mtu: Number(n.Options[MTU] ?? 0) || 1500,
    root: paths?.root,
    network: n.Name,
  };
}

function randomId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (x) => x.toString(16).padStart(2, "0"),
  ).join("");
}

function predefined(name: "host" | "none"): Network {
  return {
    Name: name,
    Id: shortHash(name).repeat(8),
    Created: "0001-01-01T00:00:00Z",
    Scope: "local",
    Driver: name === "host" ? "host" : "null",
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  };
}

/** Every stored network (bridge networks), by name. */
export async function listStored(paths: Paths): Promise<Network[]> {
  const out: Network[] = [];
  for (const f of await fs.readDir(networksDir(paths))) {
    if (!f.endsWith(".json")) continue;
    const n = await fs.readJson<Network>(`${networksDir(paths)}/${f}`).catch(() => null);
    if (n) out.push(n);
  }
  return out;
}

/** Every network including the predefined ones, the default bridge made if missing. */
export async function listNetworks(paths: Paths): Promise<Network[]> {
  await defaultBridge(paths);
  const stored = await listStored(paths);
  return [...stored, predefined("host"), predefined("none")].sort((a, b) =>
    a.Name.localeCompare(b.Name)
  );
}

/** Reads the stored network `name` (fast path: one small synchronous read), or null. */
export function readNetwork(paths: Paths, name: string): Network | null {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return null;
  const text = readSmall(`${networksDir(paths)}/${name}.json`);
  return text ? JSON.parse(text) as Network : null;
}

/**
 * Finds a network by name, full id or unique id prefix, as docker does; the default bridge
 * is created on first use. NotFoundError "network X not found" otherwise.
 */
export async function findNetwork(paths: Paths, ref: string): Promise<Network> {
  if (ref === "host" || ref === "none") return predefined(ref);
  if (ref === "bridge" || ref === "default") return await defaultBridge(paths);
  const byName = readNetwork(paths, ref);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const all = [...await listStored(paths), predefined("host"), predefined("none")];
    const hits = all.filter((n) => n.Id.startsWith(ref));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new ConflictError(`network ${ref} is ambiguous (${hits.length} matches)`);
    }
  }
  throw new NotFoundError(`network ${ref} not found`);
}

/** Runs `fn` holding the host-wide network lock (subnet choice, bridge creation). */
export function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  return withFileLock("/run/hako-net.lock", fn);
}

/** Docker's default address pools: 172.17–31.0.0/16, then 192.168.0–240.0/20. */
function* pool(): Generator<Subnet> {
  for (let b = 17; b <= 31; b++) yield { base: ((172 << 24) | (b << 16)) >>> 0, prefix: 16 };
  for (let c = 0; c < 256; c += 16) {
    yield { base: ((192 << 24) | (168 << 16) | (c << 8)) >>> 0, prefix: 20 };
  }
}

/** Subnets taken on this host: routes in the main table and every hako store's networks. */
function takenSubnets(nl: Netlink): Subnet[] {
  return routedSubnets(nl);
}

/** The MTU of the link the host's default route leaves through (1500 when unknown). */
export function hostMtu(nl: Netlink): number {
  const m = new NlMsg(
    RTM.GETROUTE,
    NLM_F.REQUEST | NLM_F.DUMP,
    rtmsg({ family: AF.INET, dstLen: 0 }),
  );
  let oif: number | undefined;
  for (const r of nl.request(m, "list routes")) {
    if (r.type === RTM.NEWROUTE && r.body[1] === 0 && r.body[4] === 254) {
      oif = attrU32(parseAttrs(r.body, 12).get(RTA.OIF));
      if (oif) break;
    }
  }
  if (!oif) return 1500;
  return listLinks(nl).find((l) => l.index === oif)?.mtu ?? 1500;
}

async function chooseSubnet(paths: Paths, nl: Netlink, exclude: Subnet[]): Promise<Subnet> {
  const taken = [...takenSubnets(nl), ...exclude];
  for (const n of await listStored(paths)) {
    for (const c of n.IPAM.Config) taken.push(parseSubnet(c.Subnet));
  }
  for (const s of pool()) if (!taken.some((t) => overlaps(t, s))) return s;
  throw new ConflictError(
    "create network: every default address pool overlaps a route or network already on this host; pass --subnet",
  );
}

/** Options of `network create`. */
export interface CreateNetworkOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** Create even when the name exists (the default bridge's race); returns the winner. */
  mayExist?: boolean;
}

/**
 * Creates a bridge network record (the bridge itself is made on first use, bridge.ts).
 * The name must be new; the subnet is checked against routes and other networks.
 */
export async function createNetwork(
  paths: Paths,
  name: string,
  o: CreateNetworkOptions = {},
): Promise<Network> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new UsageError(
      `invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  if (PREDEFINED.includes(name) && !o.mayExist) {
    throw new ConflictError(`network with name ${name} already exists`);
  }
  let created: Network | null = null;
  const net = await withHostLock(async () => {
    const existing = readNetwork(paths, name);
    if (existing) {
      if (o.mayExist) return existing;
      throw new ConflictError(`network with name ${name} already exists`);
    }
    const nl = Netlink.open();
    try {
      await removeStaleBridges(nl);
      let subnet: Subnet;
      if (o.subnet) {
        subnet = parseSubnet(o.subnet);
        for (const n of await listStored(paths)) {
          for (const c of n.IPAM.Config) {
            if (overlaps(parseSubnet(c.Subnet), subnet)) {
              throw new ConflictError(
                `create network ${name}: subnet ${
                  formatSubnet(subnet)
                } overlaps network ${n.Name} (${c.Subnet})`,
              );
            }
          }
        }
        for (const t of takenSubnets(nl)) {
          if (overlaps(t, subnet)) {
            throw new ConflictError(
              `create network ${name}: subnet ${formatSubnet(subnet)} overlaps ${
                formatSubnet(t)
              }, already routed on this host`,
            );
          }
        }
      } else {
        subnet = await chooseSubnet(paths, nl, []);
      }
      let gateway = subnet.base + 1;
      if (o.gateway) {
        const g = parseIp(o.gateway);
        if (g === null || ((g & (0xffffffff << (32 - subnet.prefix))) >>> 0) !== subnet.base) {
          throw new UsageError(
            `invalid gateway "${o.gateway}": not an address in ${formatSubnet(subnet)}`,
          );
        }
        gateway = g;
      }
      const id = randomId();
      const bridge = o.options?.[BRIDGE_NAME] ??
        (name === "bridge"
          ? (isDefaultRoot(paths) ? "hako0" : `hk-${shortHash(paths.root)}`)
          : `hk-${id.slice(0, 12)}`);
      if (bridge.length > IFNAME_MAX || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) {
        throw new UsageError(
          `invalid bridge name "${bridge}": at most ${IFNAME_MAX} of [a-zA-Z0-9_.-]`,
        );
      }
      const net: Network = {
        Name: name,
        Id: id,
        Created: new Date().toISOString(),
        Scope: "local",
        Driver: "bridge",
        EnableIPv6: false,
        IPAM: {
          Driver: "default",
          Options: {},
          Config: [{ Subnet: formatSubnet(subnet), Gateway: formatIp(gateway) }],
        },
        Internal: !!o.internal,
        Attachable: false,
        Ingress: false,
        ConfigFrom: { Network: "" },
        ConfigOnly: false,
        Containers: {},
        Options: {
          ...(o.options ?? {}),
          [BRIDGE_NAME]: bridge,
          [MTU]: String(Number(o.options?.[MTU]) || hostMtu(nl)),
        },
        Labels: o.labels ?? {},
      };
      // The bridge is made now, under the host lock, so its route tells the next network
      // (of any store) that this subnet is taken.
      for (let attempt = 0;; attempt++) {
        try {
          setupBridge(nl, {
            bridge,
            subnet,
            gateway,
            mtu: Number(net.Options[MTU]),
            root: paths.root,
            network: name,
          });
          break;
        } catch (e) {
          // Something outside hako's lock (another engine, an older hako) took the subnet
          // since it was chosen: choose again.
          if (o.subnet || o.gateway || attempt >= 3 || !(e instanceof ConflictError)) throw e;
          subnet = await chooseSubnet(paths, nl, [subnet]);
          gateway = subnet.base + 1;
          net.IPAM.Config = [{ Subnet: formatSubnet(subnet), Gateway: formatIp(gateway) }];
        }
      }
      try {
        await fs.mkdir(networksDir(paths));
        await fs.writeJsonAtomic(`${networksDir(paths)}/${name}.json`, net);
      } catch (e) {
        deleteLink(nl, bridge);
        throw e;
      }
      created = net;
      return net;
    } finally {
      nl.close();
    }
  });
  if (created) {
    // Its masquerade rules; a network nobody can reach the outside from is no use.
    const { syncNat } = await import("./sync.ts");
    try {
      await syncNat(paths);
    } catch (e) {
      const { removeNetwork } = await import("./remove.ts");
      await removeNetwork(paths, net.Name).catch(() => {});
      throw e;
    }
  }
  return net;
}

/**
 * Deletes the bridges of networks whose record is gone (stores removed without removing
 * their networks) and, when a store has none left, its NAT table.
 */
async function removeStaleBridges(nl: Netlink): Promise<void> {
  const stale = await staleBridges(nl);
  for (const b of stale) deleteLink(nl, b.name);
  const { natBackend } = await import("./nat.ts");
  for (const root of new Set(stale.map((b) => b.root))) {
    if (await fs.exists(`${root}/networks`)) continue;
    await (await natBackend(natTag({ root }))).remove().catch(() => {});
  }
}

/** The default `bridge` network of the store, created on first use. */
export async function defaultBridge(paths: Paths): Promise<Network> {
  return readNetwork(paths, "bridge") ?? await createNetwork(paths, "bridge", { mayExist: true });
}

/** Removes a network's record (the caller has torn its bridge and rules down). */
export async function removeNetworkRecord(paths: Paths, n: Network): Promise<void> {
  await fs.remove(`${networksDir(paths)}/${n.Name}.json`);
}
