/** `hako attach`: connect the terminal to a container started with -d. */

import { writeOut } from "../../ffi/host.ts";
import { attachContainer } from "../engine/attach.ts";
import type { Paths } from "../engine/paths.ts";
import { needArgs, parse } from "./parse.ts";

const SPEC = {
  "--detach-keys": String,
  "--no-stdin": Boolean,
  "--sig-proxy": String,
  "--help": Boolean,
};

export const ATTACH_USAGE = `Usage:  hako attach [OPTIONS] CONTAINER

Attach local standard input, output, and error streams to a running container

Options:
      --detach-keys string   Override the key sequence for detaching a container
                             (default "ctrl-p,ctrl-q")
      --no-stdin             Do not attach STDIN
      --sig-proxy            Proxy all received signals to the process (default true)
`;

/** `hako attach`: the container's exit code, or 0 after detaching. */
export async function attach(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("attach", SPEC, argv.map((x) => x === "--sig-proxy" ? "--sig-proxy=true" : x));
  if (a["--help"]) {
    writeOut(ATTACH_USAGE);
    return 0;
  }
  needArgs("attach", a._, 1, "[OPTIONS] CONTAINER");
  const code = await attachContainer(paths, a._[0], {
    detachKeys: a["--detach-keys"],
    noStdin: a["--no-stdin"],
    sigProxy: a["--sig-proxy"] !== "false",
  });
  return code ?? 0;
}
