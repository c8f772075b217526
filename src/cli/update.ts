/** `hako update`: change the resource limits and restart policy of containers. */

import { writeErr, writeOut } from "../../ffi/host.ts";
import type { LimitFlags } from "../cgroups/mod.ts";
import type { Paths } from "../engine/paths.ts";
import { updateContainer } from "../engine/update.ts";
import { HakoError, UsageError } from "../errors.ts";
import { LIMIT_FLAGS, limitValues, needArgs, parse } from "./parse.ts";

const SPEC = {
  ...LIMIT_FLAGS,
  "--restart": String,
  "--help": Boolean,
};

const USAGE = `Usage:  hako update [OPTIONS] CONTAINER [CONTAINER...]

Update configuration of one or more containers

Options:
      --blkio-weight uint16        Block IO (relative weight), between 10 and 1000, or 0 to disable
  -c, --cpu-shares int             CPU shares (relative weight)
      --cpu-period int             Limit CPU CFS (Completely Fair Scheduler) period
      --cpu-quota int              Limit CPU CFS (Completely Fair Scheduler) quota
      --cpus decimal               Number of CPUs
      --cpuset-cpus string         CPUs in which to allow execution (0-3, 0,1)
      --cpuset-mems string         MEMs in which to allow execution (0-3, 0,1)
  -m, --memory bytes               Memory limit
      --memory-reservation bytes   Memory soft limit
      --memory-swap bytes          Swap limit equal to memory plus swap: -1 to enable unlimited swap
      --pids-limit int             Tune container pids limit (set -1 for unlimited)
      --restart string             Restart policy to apply when a container exits
`;

/** `hako update`. */
export async function update(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("update", SPEC, argv);
  if (a["--help"]) {
    writeOut(USAGE);
    return 0;
  }
  needArgs("update", a._, 1, "[OPTIONS] CONTAINER [CONTAINER...]");
  const limits: LimitFlags = limitValues(a);
  const anyLimit = Object.values(limits).some((v) => v !== undefined);
  if (!anyLimit && a["--restart"] === undefined) {
    throw new UsageError(
      "you must provide one or more flags when using this command\nSee 'hako update --help'",
    );
  }
  let code = 0;
  for (const ref of a._) {
    try {
      await updateContainer(paths, ref, {
        limits: anyLimit ? limits : undefined,
        restart: a["--restart"],
      });
      writeOut(ref + "\n");
    } catch (e) {
      // A bad value is the same for every container: report it once, as run does.
      if (e instanceof UsageError) throw e;
      if (!(e instanceof HakoError)) throw e;
      writeErr(`Error response from daemon: ${e.message}\n`);
      code = 1;
    }
  }
  return code;
}
