/** `hako network create|ls|inspect|rm|prune`: Docker's network commands for bridge networks. */

import { writeErr, writeOut } from "../../ffi/host.ts";
import type { Paths } from "../engine/paths.ts";
import { HakoError, UsageError } from "../errors.ts";
import { pruneNetworks, removeNetwork, resetNetworks } from "../net/remove.ts";
import { createNetwork, findNetwork, listNetworks, MTU, type Network } from "../net/store.ts";
import { liveEndpoints } from "../net/sync.ts";
import { applyFormat, printJson, printJsonLine, printTable } from "./format.ts";
import { needArgs, parse, Strings } from "./parse.ts";

const USAGE = `Usage:  hako network COMMAND

Manage networks

Commands:
  create      Create a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks
  reset       Remove every network of this store, the default bridge and NAT rules included

Run 'hako network COMMAND --help' for more information on a command.
`;

function kv(list: string[] = [], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const i = s.indexOf("=");
    if (i <= 0) throw new UsageError(`invalid argument "${s}" for "${flag}": expected key=value`);
    out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

async function create(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("network create", {
    "--driver": String,
    "-d": "--driver",
    "--subnet": String,
    "--gateway": String,
    "--internal": Boolean,
    "--label": Strings,
    "--opt": Strings,
    "-o": "--opt",
    "--mtu": String,
  }, argv);
  needArgs("network create", a._, 1, "[OPTIONS] NETWORK");
  if (a._.length > 1) throw new UsageError(`"hako network create" requires exactly 1 argument`);
  const driver = a["--driver"] ?? "bridge";
  if (driver !== "bridge") {
    throw new UsageError(`network driver "${driver}" is not supported (only bridge)`);
  }
  const options = kv(a["--opt"], "--opt");
  if (a["--mtu"]) options[MTU] = a["--mtu"];
  const n = await createNetwork(paths, a._[0], {
    subnet: a["--subnet"],
    gateway: a["--gateway"],
    internal: a["--internal"],
    labels: kv(a["--label"], "--label"),
    options,
  });
  writeOut(n.Id + "\n");
  return 0;
}

function row(n: Network) {
  return {
    ID: n.Id.slice(0, 12),
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    CreatedAt: n.Created,
    Labels: Object.entries(n.Labels).map(([k, v]) => `${k}=${v}`).join(","),
  };
}

async function ls(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("network ls", {
    "--quiet": Boolean,
    "-q": "--quiet",
    "--no-trunc": Boolean,
    "--format": String,
    "--filter": Strings,
    "-f": "--filter",
  }, argv);
  let list = await listNetworks(paths);
  for (const f of a["--filter"] ?? []) {
    const [k, v = ""] = f.split("=");
    if (k === "name") list = list.filter((n) => n.Name.includes(v));
    else if (k === "id") list = list.filter((n) => n.Id.startsWith(v));
    else if (k === "driver") list = list.filter((n) => n.Driver === v);
    else throw new UsageError(`invalid filter '${f}'`);
  }
  const id = (n: Network) => a["--no-trunc"] ? n.Id : n.Id.slice(0, 12);
  if (a["--quiet"]) {
    writeOut(list.map((n) => id(n) + "\n").join(""));
    return 0;
  }
  const fmt = a["--format"];
  if (fmt === "json") {
    for (const n of list) printJsonLine(row(n));
    return 0;
  }
  if (fmt) {
    writeOut(list.map((n) => applyFormat(fmt, row(n)) + "\n").join(""));
    return 0;
  }
  printTable(
    ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
    list.map((n) => [id(n), n.Name, n.Driver, n.Scope]),
  );
  return 0;
}

/** A network with its live containers filled in, as `docker network inspect` shows it. */
async function withContainers(paths: Paths, n: Network): Promise<Network> {
  if (n.Driver !== "bridge") return n;
  const containers: Record<string, unknown> = {};
  for (const ep of await liveEndpoints(paths, n)) {
    containers[ep.Container] = {
      Name: ep.Name,
      EndpointID: ep.EndpointID,
      MacAddress: ep.Mac,
      IPv4Address: `${ep.IP}/${ep.Prefix}`,
      IPv6Address: "",
    };
  }
  return { ...n, Containers: containers };
}

async function inspect(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("network inspect", { "--format": String, "-f": "--format" }, argv);
  needArgs("network inspect", a._, 1, "[OPTIONS] NETWORK [NETWORK...]");
  const out: Network[] = [];
  let code = 0;
  for (const ref of a._) {
    try {
      out.push(await withContainers(paths, await findNetwork(paths, ref)));
    } catch (e) {
      if (!(e instanceof HakoError)) throw e;
      writeErr(`hako: ${e.message}\n`);
      code = 1;
    }
  }
  const fmt = a["--format"];
  if (fmt) {
    // deno-lint-ignore no-explicit-any
    writeOut(out.map((n) => applyFormat(fmt, n as any) + "\n").join(""));
  } else printJson(out);
  return code;
}

async function rm(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("network rm", { "--force": Boolean, "-f": "--force" }, argv);
  needArgs("network rm", a._, 1, "NETWORK [NETWORK...]");
  let code = 0;
  for (const ref of a._) {
    try {
      writeOut(await removeNetwork(paths, ref) + "\n");
    } catch (e) {
      if (!(e instanceof HakoError)) throw e;
      if (a["--force"] && e.status === 404) continue;
      writeErr(`hako: ${e.message}\n`);
      code = 1;
    }
  }
  return code;
}

async function prune(paths: Paths, argv: string[]): Promise<number> {
  parse("network prune", { "--force": Boolean, "-f": "--force", "--filter": Strings }, argv);
  const gone = await pruneNetworks(paths);
  if (gone.length) writeOut(`Deleted Networks:\n${gone.map((n) => n + "\n").join("")}`);
  return 0;
}

async function reset(paths: Paths, argv: string[]): Promise<number> {
  parse("network reset", {}, argv);
  await resetNetworks(paths);
  return 0;
}

const SUB: Record<string, (paths: Paths, argv: string[]) => Promise<number>> = {
  create,
  ls,
  list: ls,
  inspect,
  rm,
  remove: rm,
  prune,
  reset,
};

/** `hako network SUBCOMMAND`. */
export async function network(paths: Paths, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    writeOut(USAGE);
    return sub ? 0 : 1;
  }
  const f = SUB[sub];
  if (!f) throw new UsageError(`unknown command "${sub}" for "hako network"\n${USAGE}`);
  return await f(paths, rest);
}
