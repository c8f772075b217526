/** `hako run` and `hako create`: Docker's flags for a new container. */

import { isTerminal, writeOut } from "../../ffi/host.ts";
import { parseLimits } from "../cgroups/mod.ts";
import type { Limits } from "../cgroups/mod.ts";
import { createContainer, type CreateOptions } from "../engine/create.ts";
import type { Paths } from "../engine/paths.ts";
import { removeFiles } from "../engine/launch.ts";
import { readRecord } from "../engine/record.ts";
import { runForeground, startDetached } from "../engine/run.ts";
import { dockerResources } from "../engine/update.ts";
import { UsageError } from "../errors.ts";
import { mark } from "../trace.ts";
import { LIMIT_FLAGS, limitValues, needArgs, parse, Strings } from "./parse.ts";

const SPEC = {
  "--detach": Boolean,
  "-d": "--detach",
  "--rm": Boolean,
  "--name": String,
  "--env": Strings,
  "-e": "--env",
  "--workdir": String,
  "-w": "--workdir",
  "--user": String,
  "-u": "--user",
  "--volume": Strings,
  "-v": "--volume",
  "--hostname": String,
  "-h": "--hostname",
  "--entrypoint": String,
  "--tty": Boolean,
  "-t": "--tty",
  "--interactive": Boolean,
  "-i": "--interactive",
  "--network": String,
  "--net": "--network",
  "--publish": Strings,
  "-p": "--publish",
  "--publish-all": Boolean,
  "-P": "--publish-all",
  "--expose": Strings,
  "--network-alias": Strings,
  "--add-host": Strings,
  "--dns": Strings,
  "--dns-search": Strings,
  "--dns-option": Strings,
  "--cap-add": Strings,
  "--cap-drop": Strings,
  "--privileged": Boolean,
  "--security-opt": Strings,
  "--read-only": Boolean,
  "--ulimit": Strings,
  "--restart": String,
  "--label": Strings,
  "-l": "--label",
  "--stop-signal": String,
  ...LIMIT_FLAGS,
  "--oom-kill-disable": Boolean,
  "--help": Boolean,
};

export const RUN_USAGE = `Usage:  hako run [OPTIONS] IMAGE [COMMAND] [ARG...]

Create and run a new container from an image

Options:
  -d, --detach               Run container in background and print container ID
      --rm                   Automatically remove the container when it exits
      --name string          Assign a name to the container
  -e, --env list             Set environment variables
  -w, --workdir string       Working directory inside the container
  -u, --user string          Username or UID (format: <name|uid>[:<group|gid>])
  -v, --volume list          Bind mount a host directory: /host:/ctr[:ro]
  -h, --hostname string      Container host name
      --entrypoint string    Overwrite the default ENTRYPOINT of the image
  -i, --interactive          Keep STDIN open
  -t, --tty                  Allocate a pseudo-TTY
      --network string       Connect a container to a network (bridge, none, host,
                             container:NAME, or a network from 'hako network create')
  -p, --publish list         Publish a container's port to the host ([ip:]hostPort:port[/udp])
  -P, --publish-all          Publish all exposed ports to random host ports
      --expose list          Expose a port or a range of ports
      --network-alias list   Add a network-scoped alias for the container
      --add-host list        Add a custom host-to-IP mapping (host:ip, host:host-gateway)
      --dns list             Set custom DNS servers
      --dns-search list      Set custom DNS search domains
      --dns-option list      Set DNS options
      --cap-add list         Add Linux capabilities
      --cap-drop list        Drop Linux capabilities
      --privileged           Give extended privileges to this container
      --security-opt list    Security options (no-new-privileges)
      --read-only            Mount the container's root filesystem as read only
      --ulimit list          Ulimit options (name=soft[:hard])
      --restart string       Restart policy (no, always, unless-stopped, on-failure[:N])
  -l, --label list           Set meta data on a container
      --stop-signal string   Signal to stop the container
  -m, --memory bytes         Memory limit
      --memory-swap bytes    Memory + swap limit (-1 unlimited)
      --cpus decimal         Number of CPUs
      --pids-limit int       Tune container pids limit (-1 unlimited)
      --cpuset-cpus string   CPUs in which to allow execution (0-3, 0,1)
`;

/** Parses run/create flags into engine options (limits validated before anything exists). */
export async function parseRun(command: string, argv: string[]): Promise<CreateOptions | null> {
  const a = parse(command, SPEC, argv, true);
  if (a["--help"]) {
    writeOut(RUN_USAGE);
    return null;
  }
  needArgs(command, a._, 1, "[OPTIONS] IMAGE [COMMAND] [ARG...]");
  const limitFlags = limitValues(a);
  const limits: Limits = Object.values(limitFlags).some((v) => v !== undefined)
    ? await parseLimits(limitFlags)
    : {};
  if (a["--detach"] && a["--rm"] && a["--restart"] && a["--restart"] !== "no") {
    throw new UsageError("conflicting options: --restart and --rm");
  }
  return {
    image: a._[0],
    cmd: a._.slice(1),
    name: a["--name"],
    env: a["--env"],
    workdir: a["--workdir"],
    user: a["--user"],
    volumes: a["--volume"],
    hostname: a["--hostname"],
    entrypoint: a["--entrypoint"],
    rm: a["--rm"],
    tty: a["--tty"],
    interactive: a["--interactive"],
    network: a["--network"],
    publish: a["--publish"],
    publishAll: a["--publish-all"],
    expose: a["--expose"],
    networkAliases: a["--network-alias"],
    addHosts: a["--add-host"],
    dns: a["--dns"],
    dnsSearch: a["--dns-search"],
    dnsOptions: a["--dns-option"],
    capAdd: a["--cap-add"],
    capDrop: a["--cap-drop"],
    privileged: a["--privileged"],
    securityOpt: a["--security-opt"],
    readOnly: a["--read-only"],
    ulimits: a["--ulimit"],
    restart: a["--restart"],
    labels: a["--label"],
    stopSignal: a["--stop-signal"],
    limits,
    resources: dockerResources(limits),
    detach: a["--detach"],
  } as CreateOptions & { detach?: boolean };
}

/** `hako create`. */
export async function createCommand(paths: Paths, argv: string[]): Promise<number> {
  const o = await parseRun("create", argv);
  if (!o) return 0;
  const c = await createContainer(paths, o);
  writeOut(c.Id + "\n");
  return 0;
}

/** `hako run`. */
export async function runCommand(paths: Paths, argv: string[]): Promise<number> {
  const o = await parseRun("run", argv) as CreateOptions & { detach?: boolean } | null;
  if (!o) return 0;
  if (o.tty && o.interactive && !o.detach && !isTerminal(0)) {
    throw new UsageError("the input device is not a TTY");
  }
  const c = await createContainer(paths, o);
  mark("create");
  if (o.detach) {
    try {
      await startDetached(paths, c.Id);
    } catch (e) {
      if (c.HostConfig.AutoRemove) {
        const r = await readRecord(paths, c.Id);
        if (r) await removeFiles(paths, r);
      }
      throw e;
    }
    writeOut(c.Id + "\n");
    return 0;
  }
  return await runForeground(paths, c);
}
