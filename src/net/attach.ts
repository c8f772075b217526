/**
 * Connecting one container start to its network, and disconnecting it when it ends.
 *
 * Bridge and user networks: before clone, lease an address, reserve published ports,
 * write /etc/hosts and (with ports) the DNAT rules; between clone and execve (the start
 * hook), create the veth pair with its container end directly in the child's new network
 * namespace and configure eth0, address and default route through a netlink socket the
 * child opened there (handoff.ts). `container:NAME` joins that container's namespace;
 * `host` and `none` need nothing (the plan brings lo up in a new namespace).
 *
 * Teardown gives the address, ports and rules back. The veth needs no deleting: it dies
 * with the container's namespace when its last process exits (deleting it ourselves costs
 * ~20 ms of RCU waits); only a namespace that other containers still share has its veth
 * deleted explicitly.
 *
 * @module
 */

import { readSmall } from "../../ffi/kfs.ts";
import * as fs from "../../ffi/fs.ts";
import { addr, AT_FDCWD, cstr, O, type Plan, SYS, sys } from "../../ffi/mod.ts";
import type { Paths } from "../engine/paths.ts";
import type { Container } from "../engine/record.ts";
import { findId, loadRecord } from "../engine/record.ts";
import { ConflictError, HakoError } from "../errors.ts";
import { addressMsg, defaultRouteMsg } from "./address.ts";
import { bridgeIndex, setupBridge } from "./bridge.ts";
import { NetnsHandoff } from "./handoff.ts";
import { endpointHosts, rewriteHosts } from "./hosts.ts";
import { formatIp, macFor } from "./ip.ts";
import { allocate, type Endpoint, type Lease } from "./ipam.ts";
import { createVeth, deleteLink, linkIndex, upMsg } from "./link.ts";
import { Netlink } from "./netlink.ts";
import { type PortBindings, PortReservation, portsSettings, publishAll } from "./ports.ts";
import { bridgeOf, findNetwork, type Network, withHostLock } from "./store.ts";

// sync.ts (NAT, sweeping, peers' hosts files) is loaded only when a start needs it: the
// default bridge without published ports never does.
const sync = () => import("./sync.ts");
const syncNat = async (paths: Paths) => (await sync()).syncNat(paths);
const sweepAll = async (paths: Paths) => (await sync()).sweepAll(paths);
const syncHosts = async (paths: Paths, n: Network, also?: Endpoint[]) =>
  (await sync()).syncHosts(paths, n, also);

/** What the runtime runs between clone and execve (see runtime/create.ts StartHook). */
export interface NetHook {
  early(p: Plan): void;
  late(p: Plan): void;
  started(pid: number): Promise<void>;
  done(): void;
}

/** A container's network for one run. */
export interface Attachment {
  /** Set for bridge networks: the runtime's start hook. */
  hook?: NetHook;
  /** Set for `container:NAME`: the namespace file to join. */
  join?: { type: "network"; path: string };
  /** NetworkSettings for the record while the container runs. */
  settings(): NetworkSettings;
  /** Gives everything back; safe to call more than once. */
  teardown(): Promise<void>;
}

/** Docker's NetworkSettings as hako fills it. */
export interface NetworkSettings {
  Networks: Record<string, unknown>;
  IPAddress: string;
  Ports: Record<string, unknown>;
  [key: string]: unknown;
}

/** The network mode of a container record: kind and target. */
export function networkMode(
  c: Container,
): { kind: "bridge" | "none" | "host" | "container"; ref: string } {
  const m = c.HostConfig.NetworkMode || "bridge";
  if (m === "none" || m === "host") return { kind: m, ref: m };
  if (m.startsWith("container:")) return { kind: "container", ref: m.slice(10) };
  return { kind: "bridge", ref: m === "default" ? "bridge" : m };
}

/** Exposed ports of a container record ("80/tcp"). */
export function exposedPorts(c: Container): string[] {
  const cfg = c.Config as { ExposedPorts?: Record<string, unknown> };
  return Object.keys(cfg.ExposedPorts ?? {});
}

const SHARED = "shared";

function randomHex(n: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(n)),
    (x) => x.toString(16).padStart(2, "0"),
  )
    .join("").slice(0, n * 2);
}

/**
 * Prepares the network of a container about to start; null for `host` and `none`.
 * Errors (unknown network, port in use, no free address) come before anything runs.
 */
export async function attachNetwork(paths: Paths, c: Container): Promise<Attachment | null> {
  const mode = networkMode(c);
  if (mode.kind === "none" || mode.kind === "host") return null;
  if (mode.kind === "container") return await joinContainer(paths, c, mode.ref);
  const net = await findNetwork(paths, mode.ref);
  if (net.Driver !== "bridge") return null;
  return await attachBridge(paths, c, net);
}

async function joinContainer(paths: Paths, c: Container, ref: string): Promise<Attachment> {
  const owner = await loadRecord(paths, await findId(paths, ref));
  if (!owner.State.Running || !owner.State.Pid) {
    throw new ConflictError(`cannot join network of a non running container: ${owner.Id}`);
  }
  const dir = `${paths.run}/networks/${SHARED}/${owner.Id}`;
  await fs.mkdir(dir);
  await fs.writeFile(`${dir}/${c.Id}`, "");
  let done = false;
  return {
    join: { type: "network", path: `/proc/${owner.State.Pid}/ns/net` },
    settings: () => ({ Networks: {}, IPAddress: "", Ports: {} }),
    teardown: async () => {
      if (done) return;
      done = true;
      await fs.remove(`${dir}/${c.Id}`);
      await fs.remove(dir).catch(() => {}); // only when empty
    },
  };
}

async function attachBridge(paths: Paths, c: Container, net: Network): Promise<Attachment> {
  const b = bridgeOf(net, paths);
  const name = c.Name.replace(/^\//, "");
  const bindings: PortBindings = structuredClone(c.HostConfig.PortBindings ?? {});
  if (c.HostConfig.PublishAllPorts) publishAll(exposedPorts(c), bindings);
  const hasPorts = Object.keys(bindings).length > 0;

  const nl = Netlink.open();
  let lease: Lease | null = null, ports: PortReservation | null = null;
  let handoff: NetnsHandoff | null = null;
  try {
    let master = bridgeIndex(b.bridge);
    if (master === null) {
      // First use since boot (or someone removed it): make it again, and its NAT rules.
      await withHostLock(() => Promise.resolve(setupBridge(nl, b)));
      await syncNat(paths);
      master = linkIndex(nl, b.bridge);
    }
    ports = hasPorts ? PortReservation.reserve(bindings, name) : null;
    lease = await allocate(paths, net.Id, b.subnet, b.gateway);
    if (!lease) {
      if ((await sweepAll(paths)).length) {
        lease = await allocate(paths, net.Id, b.subnet, b.gateway);
      }
    }
    if (!lease) {
      throw new ConflictError(
        `connect ${name} to network ${net.Name}: no free address left in ${
          net.IPAM.Config[0].Subnet
        }`,
      );
    }
    const ip = formatIp(lease.ip);
    const netSettings =
      (c.NetworkSettings.Networks as Record<string, { Aliases?: string[] | null }>)[net.Name];
    const ep: Endpoint = {
      EndpointID: randomHex(32),
      Container: c.Id,
      Name: name,
      Hostname: c.Config.Hostname,
      Aliases: netSettings?.Aliases ?? [],
      IP: ip,
      Prefix: b.subnet.prefix,
      Gateway: formatIp(b.gateway),
      Mac: macFor(lease.ip),
      Veth: `hk${c.Id.slice(0, 8)}.${randomHex(2)}`,
      Ports: ports?.ports ?? [],
      Pid: 0,
      StartTicks: 0,
      HostsPath: c.HostsPath,
      ExtraHosts: (c.HostConfig.ExtraHosts as string[] | undefined) ?? [],
    };
    // Peers' hosts files and NAT rules are built from lease files, so theirs is filled now;
    // on the default bridge without ports it is filled once, after the start (a lease left
    // empty by a crash in between is reclaimed by the sweep once it is old).
    if (net.Name !== "bridge" || ports) lease.write(ep);
    if (net.Name === "bridge") rewriteHosts(ep.HostsPath, endpointHosts(ep));
    else await syncHosts(paths, net, [ep]);
    if (ports) await syncNat(paths);
    handoff = new NetnsHandoff();
    return bridgeAttachment(paths, net, nl, lease, ep, ports, handoff, master ?? undefined);
  } catch (e) {
    handoff?.close();
    ports?.release();
    if (lease) {
      lease.release();
      if (net.Name !== "bridge") await syncHosts(paths, net).catch(() => {});
      if (ports) await syncNat(paths).catch(() => {});
    }
    nl.close();
    throw e;
  }
}

function bridgeAttachment(
  paths: Paths,
  net: Network,
  nl: Netlink,
  lease: Lease,
  ep: Endpoint,
  ports: PortReservation | null,
  h: NetnsHandoff,
  master: number | undefined,
): Attachment {
  const b = bridgeOf(net);
  let torn = false;
  return {
    hook: {
      early: (p) => h.early(p),
      late: (p) => h.late(p),
      started: async (pid) => {
        createVeth(nl, {
          name: ep.Veth,
          master,
          mtu: b.mtu,
          peer: { name: "eth0", nsPid: pid, mac: ep.Mac },
        });
        const fd = await h.receive();
        if (fd === null) {
          throw new HakoError("set up the container's network: the container process exited first");
        }
        const inner = Netlink.fromFd(fd);
        try {
          const idx = linkIndex(inner, "eth0");
          if (idx === null) {
            throw new HakoError(
              "set up the container's network: eth0 did not arrive in its namespace",
            );
          }
          inner.request(
            [
              upMsg("eth0", idx),
              addressMsg(idx, lease.ip, b.subnet.prefix),
              defaultRouteMsg(b.gateway),
            ],
            [
              "bring up eth0",
              `add address ${ep.IP}/${ep.Prefix} to eth0`,
              `add default route via ${ep.Gateway}`,
            ],
          );
        } finally {
          inner.close();
        }
        h.release();
        // After the go-ahead: the child need not wait for bookkeeping.
        ep.Pid = pid;
        ep.StartTicks = startTicks(pid);
        lease.write(ep);
      },
      done: () => h.close(),
    },
    settings: () => runningSettings(net, ep),
    teardown: async () => {
      if (torn) return;
      torn = true;
      h.close();
      ports?.release();
      // A namespace still shared with `container:` joiners keeps its veth: remove it.
      if (dirExists(`${paths.run}/networks/${SHARED}/${ep.Container}`)) {
        try {
          deleteLink(nl, ep.Veth);
        } catch { /* gone already */ }
      }
      nl.close();
      lease.release();
      if (net.Name !== "bridge") await syncHosts(paths, net).catch(() => {});
      if (ep.Ports.length) await syncNat(paths);
    },
  };
}

function dirExists(path: string): boolean {
  const r = sys(SYS.openat, AT_FDCWD, addr(cstr(path)), O.RDONLY | O.DIRECTORY | O.CLOEXEC, 0);
  if (r < 0n) return false;
  sys(SYS.close, r);
  return true;
}

function startTicks(pid: number): number {
  const s = readSmall(`/proc/${pid}/stat`);
  if (!s) return 0;
  return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[19]);
}

/** NetworkSettings while attached. */
export function runningSettings(net: Network, ep: Endpoint): NetworkSettings {
  const isDefault = net.Name === "bridge";
  const endpoint = {
    IPAMConfig: null,
    Links: null,
    Aliases: ep.Aliases.length ? ep.Aliases : null,
    MacAddress: ep.Mac,
    NetworkID: net.Id,
    EndpointID: ep.EndpointID,
    Gateway: ep.Gateway,
    IPAddress: ep.IP,
    IPPrefixLen: ep.Prefix,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: isDefault ? null : [ep.Name, ep.Container.slice(0, 12), ...ep.Aliases],
  };
  return {
    Bridge: "",
    SandboxID: ep.Container,
    SandboxKey: ep.Pid ? `/proc/${ep.Pid}/ns/net` : "",
    Ports: portsSettings([], ep.Ports),
    EndpointID: isDefault ? ep.EndpointID : "",
    Gateway: isDefault ? ep.Gateway : "",
    IPAddress: isDefault ? ep.IP : "",
    IPPrefixLen: isDefault ? ep.Prefix : 0,
    MacAddress: isDefault ? ep.Mac : "",
    Networks: { [net.Name]: endpoint },
  };
}

/** NetworkSettings of a container that is not running (addresses cleared, as Docker does). */
export function stoppedSettings(s: NetworkSettings): NetworkSettings {
  const nets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.Networks ?? {})) {
    nets[k] = {
      ...(v as object),
      EndpointID: "",
      Gateway: "",
      IPAddress: "",
      IPPrefixLen: 0,
      MacAddress: "",
    };
  }
  return {
    ...s,
    SandboxKey: "",
    Ports: {},
    EndpointID: "",
    Gateway: "",
    IPAddress: "",
    IPPrefixLen: 0,
    MacAddress: "",
    Networks: nets,
  };
}

/**
 * Gives back what a container left attached after its launcher died (`hako rm`): its
 * leases on every network, their hosts entries and NAT rules.
 */
export async function releaseContainer(paths: Paths, c: Container): Promise<void> {
  const nets = Object.values(c.NetworkSettings?.Networks ?? {}) as { EndpointID?: string }[];
  if (!nets.some((n) => n.EndpointID)) return;
  const gone = await sweepAll(paths);
  if (gone.some((ep) => ep.Ports?.length)) await syncNat(paths);
}
