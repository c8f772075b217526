/**
 * The network part of `hako create`: checks `--network`, `-p`, `-P`, `--expose`,
 * `--network-alias`, `--add-host` and `--dns*` the way Docker does and works out what the
 * container record and bundle get (HostConfig fields, ExposedPorts, initial /etc/hosts and
 * /etc/resolv.conf, whether the container gets a network namespace of its own).
 *
 * @module
 */

import type { Paths } from "../engine/paths.ts";
import { findId, readRecord } from "../engine/record.ts";
import { ConflictError, UsageError } from "../errors.ts";
import { hostsText, parseAddHosts } from "./hosts.ts";
import { parsePublish, type PortBindings } from "./ports.ts";
import { parseDns, resolvConf } from "./resolv.ts";
import { findNetwork } from "./store.ts";

/** The network flags of create/run. */
export interface NetworkFlags {
  network?: string;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  networkAliases?: string[];
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/** What create writes for the container's network. */
export interface NetworkChoice {
  /** HostConfig.NetworkMode. */
  mode: string;
  kind: "bridge" | "none" | "host" | "container";
  /** The container gets a network namespace of its own. */
  newNamespace: boolean;
  hosts: string;
  resolv: string;
  /** container:NAME shares the owner's hosts and resolv.conf files. */
  shared?: { hosts: string; resolv: string };
  hostConfig: Record<string, unknown>;
  exposedPorts: Record<string, Record<string, never>>;
  networks: Record<string, unknown>;
}

function conflict(what: string): never {
  throw new UsageError(`conflicting options: ${what} and the network mode`);
}

/** Validates the flags and returns what create needs. */
export async function chooseNetwork(
  paths: Paths,
  f: NetworkFlags,
  o: { name: string; hostname: string; imageExposed: string[]; hostResolv?: string },
): Promise<NetworkChoice> {
  const mode = !f.network || f.network === "default" ? "bridge" : f.network;
  const kind = mode === "none" || mode === "host"
    ? mode
    : mode.startsWith("container:")
    ? "container"
    : "bridge";
  const bindings: PortBindings = parsePublish(f.publish);
  const exposed: Record<string, Record<string, never>> = {};
  for (const e of [...o.imageExposed, ...(f.expose ?? [])]) {
    if (!/^\d+(-\d+)?(\/(tcp|udp))?$/.test(e)) {
      throw new UsageError(`invalid port "${e}" to expose: expected PORT[/tcp|udp]`);
    }
    exposed[e.includes("/") ? e : `${e}/tcp`] = {};
  }
  for (const k of Object.keys(bindings)) exposed[k] = {};
  const extra = parseAddHosts(f.addHosts);
  const dns = parseDns(f.dns);
  const aliases = f.networkAliases ?? [];

  if (kind !== "bridge" && (Object.keys(bindings).length || f.publishAll)) {
    conflict("port publishing (-p, -P)");
  }
  if (kind === "container" && (extra.length || dns.length)) conflict("--add-host and --dns");
  const networks: Record<string, unknown> = {};
  if (kind === "bridge") {
    if (mode === "bridge") {
      if (aliases.length) {
        throw new UsageError(
          "network-scoped aliases are supported only for containers on user-defined networks",
        );
      }
    } else {
      await findNetwork(paths, mode); // NotFoundError "network X not found"
    }
    networks[mode] = {
      IPAMConfig: null,
      Links: null,
      Aliases: aliases.length ? aliases : null,
      NetworkID: "",
      EndpointID: "",
      Gateway: "",
      IPAddress: "",
      IPPrefixLen: 0,
      MacAddress: "",
    };
  } else if (aliases.length) {
    throw new UsageError(
      "network-scoped aliases are supported only for containers on user-defined networks",
    );
  }

  let shared: NetworkChoice["shared"];
  let resolvedMode = mode;
  if (kind === "container") {
    const ref = mode.slice("container:".length);
    const id = await findId(paths, ref);
    const owner = await readRecord(paths, id);
    if (!owner) throw new ConflictError(`no such container: ${ref}`);
    if (owner.HostConfig.NetworkMode.startsWith("container:")) {
      resolvedMode = owner.HostConfig.NetworkMode; // join the namespace's real owner
    } else resolvedMode = `container:${id}`;
    shared = { hosts: owner.HostsPath, resolv: owner.ResolvConfPath };
  }
  return {
    mode: resolvedMode,
    kind,
    newNamespace: kind === "bridge" || kind === "none",
    hosts: hostsText({ names: [o.hostname, o.name], extra }),
    resolv: await resolvConf({
      dns,
      dnsSearch: f.dnsSearch,
      dnsOptions: f.dnsOptions,
      hostNetwork: kind === "host",
    }, o.hostResolv),
    shared,
    hostConfig: {
      PortBindings: bindings,
      PublishAllPorts: !!f.publishAll,
      Dns: dns,
      DnsSearch: f.dnsSearch ?? [],
      DnsOptions: f.dnsOptions ?? [],
      ExtraHosts: extra.length ? extra : null,
    },
    exposedPorts: exposed,
    networks,
  };
}
