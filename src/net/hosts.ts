/**
 * A container's /etc/hosts: localhost, its own address and names, `--add-host` entries and,
 * on a user network, every other container of that network by name, aliases and hostname
 * (how containers find each other by name here: no DNS server to run or to leak). The file
 * is bind-mounted into the container, so it is rewritten in place, never replaced.
 *
 * @module
 */

import { writeSmall } from "../../ffi/kfs.ts";
import { UsageError } from "../errors.ts";
import { parseIp } from "./ip.ts";
import type { Endpoint } from "./ipam.ts";

const BASE = [
  "127.0.0.1\tlocalhost",
  "::1\tlocalhost ip6-localhost ip6-loopback",
  "fe00::\tip6-localnet",
  "ff00::\tip6-mcastprefix",
  "ff02::1\tip6-allnodes",
  "ff02::2\tip6-allrouters",
];

/** Docker's special `--add-host` value: the host as seen from the container. */
export const HOST_GATEWAY = "host-gateway";

/** Checks `--add-host name:ip` entries; returns them as given. */
export function parseAddHosts(list: string[] = []): string[] {
  for (const h of list) {
    const i = h.indexOf(":");
    const name = h.slice(0, i), ip = h.slice(i + 1);
    if (
      i <= 0 || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) ||
      (ip !== HOST_GATEWAY && parseIp(ip) === null && !/^[0-9a-fA-F:]+$/.test(ip))
    ) {
      throw new UsageError(`invalid argument "${h}" for "--add-host": expected host:ip`);
    }
  }
  return list;
}

/** The hosts file text of a container. */
export function hostsText(o: {
  ip?: string;
  names: string[];
  extra?: string[];
  gateway?: string;
  peers?: Endpoint[];
}): string {
  const lines = [...BASE];
  for (const h of o.extra ?? []) {
    const i = h.indexOf(":");
    const ip = h.slice(i + 1);
    lines.push(`${ip === HOST_GATEWAY ? (o.gateway ?? "127.0.0.1") : ip}\t${h.slice(0, i)}`);
  }
  const own = [...new Set(o.names.filter(Boolean))];
  lines.push(`${o.ip ?? "127.0.1.1"}\t${own.join(" ")}`);
  for (const p of o.peers ?? []) {
    const names = [...new Set([p.Name, ...p.Aliases, p.Hostname, p.Container.slice(0, 12)])];
    lines.push(`${p.IP}\t${names.filter(Boolean).join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/** The hosts file of an endpoint, with `peers` (other endpoints of its user network). */
export function endpointHosts(ep: Endpoint, peers: Endpoint[] = []): string {
  return hostsText({
    ip: ep.IP,
    names: [ep.Hostname, ep.Name],
    extra: ep.ExtraHosts,
    gateway: ep.Gateway,
    peers: peers.filter((p) => p.Container !== ep.Container),
  });
}

/** Rewrites a hosts file in place (it is a bind-mount source); a missing file is skipped. */
export function rewriteHosts(path: string, text: string): void {
  try {
    writeSmall(path, text);
  } catch { /* the container's directory is gone */ }
}
