/**
 * Removing networks: `network rm` (refused while containers use it), `network prune`
 * (every unused user network) and `resetNetworks` (everything of a store, the default
 * bridge and NAT table included — for a store about to be deleted, e.g. a test root).
 *
 * @module
 */

import type { Paths } from "../engine/paths.ts";
import { ConflictError } from "../errors.ts";
import { removeLeases } from "./ipam.ts";
import { deleteLink } from "./link.ts";
import { natBackend } from "./nat.ts";
import { Netlink } from "./netlink.ts";
import {
  bridgeOf,
  findNetwork,
  listStored,
  natTag,
  type Network,
  PREDEFINED,
  readNetwork,
  removeNetworkRecord,
  withHostLock,
} from "./store.ts";
import { liveEndpoints, sweepAll, syncNat } from "./sync.ts";

async function drop(paths: Paths, n: Network, nl: Netlink): Promise<void> {
  const users = await liveEndpoints(paths, n);
  if (users.length) {
    throw new ConflictError(
      `error while removing network: network ${n.Name} id ${n.Id} has active endpoints (${
        users.map((u) => u.Name).join(", ")
      })`,
    );
  }
  await removeNetworkRecord(paths, n);
  deleteLink(nl, bridgeOf(n).bridge);
  await removeLeases(paths, n.Id);
}

/** `network rm`: removes a user network nobody uses; returns its name. */
export async function removeNetwork(paths: Paths, ref: string): Promise<string> {
  if (PREDEFINED.includes(ref)) {
    throw new ConflictError(`${ref} is a pre-defined network and cannot be removed`);
  }
  const n = readNetwork(paths, ref) ?? await findNetwork(paths, ref);
  if (PREDEFINED.includes(n.Name)) {
    throw new ConflictError(`${n.Name} is a pre-defined network and cannot be removed`);
  }
  await sweepAll(paths);
  const nl = Netlink.open();
  try {
    await withHostLock(() => drop(paths, n, nl));
  } finally {
    nl.close();
  }
  await syncNat(paths);
  return n.Name;
}

/**
 * `network prune` (and `system prune`): gives back what crashed launchers left, then removes
 * every user network without containers; returns their names.
 */
export async function pruneNetworks(paths: Paths): Promise<string[]> {
  const swept = await sweepAll(paths);
  const out: string[] = [];
  const nl = Netlink.open();
  try {
    for (const n of await listStored(paths)) {
      if (PREDEFINED.includes(n.Name)) continue;
      if ((await liveEndpoints(paths, n)).length) continue;
      await withHostLock(() => drop(paths, n, nl));
      out.push(n.Name);
    }
  } finally {
    nl.close();
  }
  if (out.length || swept.some((ep) => ep.Ports?.length)) await syncNat(paths);
  return out;
}

/**
 * Removes every network of the store, the default bridge included, and the store's NAT
 * table; refused while any container is attached.
 */
export async function resetNetworks(paths: Paths): Promise<void> {
  const nets = await listStored(paths);
  if (!nets.length) return;
  await sweepAll(paths);
  const nl = Netlink.open();
  try {
    for (const n of nets) await withHostLock(() => drop(paths, n, nl));
  } finally {
    nl.close();
  }
  await (await natBackend(natTag(paths))).remove();
}
