/**
 * A container's /etc/resolv.conf, derived from the host's. A resolver on the host's
 * loopback (systemd-resolved's 127.0.0.53, dnsmasq) is unreachable from the container's
 * own namespace, so it is replaced by the upstream servers systemd-resolved lists, else by
 * public resolvers, as Docker does. `--dns` replaces the servers; host networking keeps the
 * host's file as it is.
 *
 * @module
 */

import * as fs from "../../ffi/fs.ts";
import { UsageError } from "../errors.ts";
import { parseIp } from "./ip.ts";

const LOOPBACK = /^\s*nameserver\s+(127\.|::1\s*$|::1$)/;
const FALLBACK = ["nameserver 8.8.8.8", "nameserver 8.8.4.4"];

/** What the container's resolv.conf is made from. */
export interface ResolvOptions {
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --network host: the host's own file (its loopback resolver is reachable). */
  hostNetwork?: boolean;
}

/** Checks `--dns` addresses. */
export function parseDns(list: string[] = []): string[] {
  for (const d of list) {
    if (parseIp(d) === null && !/^[0-9a-fA-F:]+$/.test(d)) {
      throw new UsageError(`invalid argument "${d}" for "--dns": not an IP address`);
    }
  }
  return list;
}

/** The host's /etc/resolv.conf text ("" when missing). */
export function hostResolv(path = "/etc/resolv.conf"): Promise<string> {
  return fs.readText(path).catch(() => "");
}

/** The text of the container's resolv.conf, from the host's (`text`, read when omitted). */
export async function resolvConf(o: ResolvOptions = {}, text?: string): Promise<string> {
  text ??= await hostResolv();
  if (o.hostNetwork && !o.dns?.length && !o.dnsSearch?.length && !o.dnsOptions?.length) {
    return text || FALLBACK.join("\n") + "\n";
  }
  let lines = text.split("\n");
  const servers = lines.filter((l) => /^\s*nameserver\s/.test(l));
  lines = lines.filter((l) => !/^\s*nameserver\s/.test(l));
  if (o.dnsSearch?.length) {
    lines = lines.filter((l) => !/^\s*(search|domain)\s/.test(l));
    lines.push(`search ${o.dnsSearch.join(" ")}`);
  }
  if (o.dnsOptions?.length) {
    lines = lines.filter((l) => !/^\s*options\s/.test(l));
    lines.push(`options ${o.dnsOptions.join(" ")}`);
  }
  let ns: string[];
  if (o.dns?.length) ns = o.dns.map((d) => `nameserver ${d}`);
  else {
    ns = servers.filter((l) => !LOOPBACK.test(l));
    if (!ns.length && servers.length) {
      // systemd-resolved keeps the real upstreams here.
      const up = await fs.readText("/run/systemd/resolve/resolv.conf").catch(() => "");
      ns = up.split("\n").filter((l) => /^\s*nameserver\s/.test(l) && !LOOPBACK.test(l));
    }
    if (!ns.length) ns = FALLBACK;
  }
  return [...lines.filter((l) => l.trim() !== ""), ...ns].join("\n").trim() + "\n";
}
