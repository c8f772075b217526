/** `hako exec`: run a command in a running container. */

import { isTerminal, writeOut } from "../../ffi/host.ts";
import { execInContainer } from "../engine/exec.ts";
import type { Paths } from "../engine/paths.ts";
import { UsageError } from "../errors.ts";
import { needArgs, parse, Strings } from "./parse.ts";

const SPEC = {
  "--detach": Boolean,
  "-d": "--detach",
  "--env": Strings,
  "-e": "--env",
  "--interactive": Boolean,
  "-i": "--interactive",
  "--tty": Boolean,
  "-t": "--tty",
  "--user": String,
  "-u": "--user",
  "--workdir": String,
  "-w": "--workdir",
  "--privileged": Boolean,
  "--detach-keys": String,
  "--help": Boolean,
};

export const EXEC_USAGE = `Usage:  hako exec [OPTIONS] CONTAINER COMMAND [ARG...]

Execute a command in a running container

Options:
  -d, --detach               Detached mode: run command in the background
  -e, --env list             Set environment variables
  -i, --interactive          Keep STDIN open even if not attached
      --privileged           Give extended privileges to the command
  -t, --tty                  Allocate a pseudo-TTY
  -u, --user string          Username or UID (format: "<name|uid>[:<group|gid>]")
  -w, --workdir string       Working directory inside the container
`;

/** `hako exec`: resolves with the command's exit code. */
export async function exec(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("exec", SPEC, argv, true);
  if (a["--help"]) {
    writeOut(EXEC_USAGE);
    return 0;
  }
  needArgs("exec", a._, 2, "[OPTIONS] CONTAINER COMMAND [ARG...]");
  const tty = !!a["--tty"], interactive = !!a["--interactive"], detach = !!a["--detach"];
  if (tty && interactive && !detach && !isTerminal(0)) {
    throw new UsageError("the input device is not a TTY");
  }
  return await execInContainer(paths, a._[0], {
    cmd: a._.slice(1),
    env: a["--env"],
    user: a["--user"],
    workdir: a["--workdir"],
    tty,
    interactive,
    detach,
    privileged: a["--privileged"],
  });
}
