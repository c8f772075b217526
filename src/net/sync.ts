/**
 * Keeping the host in line with the store: the NAT table is rebuilt from the networks and
 * the live leases (sweeping leases left by a killed hako on the way), and the hosts files
 * of a user network are rewritten from its live leases.
 *
 * @module
 */

import { withFileLock } from "../../ffi/lock.ts";
import { mkdirSmall } from "../../ffi/kfs.ts";
import type { Paths } from "../engine/paths.ts";
import { endpointHosts, rewriteHosts } from "./hosts.ts";
import { parseIp } from "./ip.ts";
import { type Endpoint, leaseDir, leases, processAlive, sweep } from "./ipam.ts";
import { deleteLink } from "./link.ts";
import { natBackend, type NatState } from "./nat.ts";
import { Netlink } from "./netlink.ts";
import { bridgeOf, listStored, natTag, type Network } from "./store.ts";

function stateDir(paths: Paths): string {
  mkdirSmall(paths.run);
  mkdirSmall(`${paths.run}/networks`);
  return `${paths.run}/networks`;
}

/** Removes what an orphaned endpoint left on the host (its veth, if its namespace lingers). */
function reclaim(nl: Netlink, ep: Endpoint): void {
  if (ep.Veth) deleteLink(nl, ep.Veth);
}

/** Live endpoints of a network (held by a launcher, or whose container still runs). */
export async function liveEndpoints(paths: Paths, n: Network): Promise<Endpoint[]> {
  return (await leases(paths, n.Id))
    .filter((l) => l.endpoint && (l.held || processAlive(l.endpoint.Pid, l.endpoint.StartTicks)))
    .map((l) => l.endpoint!);
}

/**
 * Rewrites the hosts file of every container on user network `n` so each lists the others.
 * The default bridge has no name resolution (as in Docker), so it is skipped.
 */
export async function syncHosts(paths: Paths, n: Network, also: Endpoint[] = []): Promise<void> {
  if (n.Name === "bridge") return;
  await withFileLock(`${leaseDir(paths, n.Id)}/.hosts.lock`, async () => {
    const eps = await liveEndpoints(paths, n);
    for (const a of also) if (!eps.some((e) => e.Container === a.Container)) eps.push(a);
    for (const ep of eps) rewriteHosts(ep.HostsPath, endpointHosts(ep, eps));
  });
}

/**
 * Sweeps orphaned leases of every network, then rebuilds the store's NAT table from the
 * networks and the published ports of live endpoints. `extra` are endpoints being set up
 * by this process (already leased; included even before their container runs).
 */
export async function syncNat(paths: Paths): Promise<void> {
  await withFileLock(`${stateDir(paths)}/.nat.lock`, async () => {
    const backend = await natBackend(natTag(paths));
    const nets = await listStored(paths);
    const state: NatState = { networks: [], ports: [] };
    const nl = Netlink.open();
    try {
      for (const n of nets) {
        const b = bridgeOf(n);
        state.networks.push({ bridge: b.bridge, subnet: b.subnet, internal: n.Internal });
        const gone = await sweep(paths, n.Id, (ep) => reclaim(nl, ep));
        for (const l of await leases(paths, n.Id)) {
          if (!l.endpoint) continue;
          for (const p of l.endpoint.Ports ?? []) {
            state.ports.push({ ...p, ip: parseIp(l.endpoint.IP)! });
          }
        }
        if (gone.length) await syncHosts(paths, n);
      }
    } finally {
      nl.close();
    }
    // A store without networks keeps no table at all.
    if (nets.length) await backend.apply(state);
    else await backend.remove();
  });
}

/** Sweeps orphaned leases of every network and fixes hosts files; returns what it freed. */
export async function sweepAll(paths: Paths): Promise<Endpoint[]> {
  const all: Endpoint[] = [];
  const nl = Netlink.open();
  try {
    for (const n of await listStored(paths)) {
      const gone = await sweep(paths, n.Id, (ep) => reclaim(nl, ep));
      all.push(...gone);
      if (gone.length) await syncHosts(paths, n);
    }
  } finally {
    nl.close();
  }
  return all;
}
