/** `hako pull [OPTIONS] NAME[:TAG|@DIGEST]`. */

import { isTerminal, writeOut } from "../../ffi/host.ts";
import type { Paths } from "../engine/paths.ts";
import { Progress } from "../registry/progress.ts";
import { pullImage } from "../registry/pull.ts";
import { parseRemote } from "../registry/reference.ts";
import { HakoError, UsageError } from "../errors.ts";
import { needArgs, parse, Strings } from "./parse.ts";

/** Like `docker pull/push/login`, a failed transfer exits 1 (flag errors stay 125). */
export function transferFailed(e: unknown): never {
  if (e instanceof HakoError && !(e instanceof UsageError)) e.exitCode = 1;
  throw e;
}

/** Progress on stdout: bars on a terminal, lines otherwise, nothing with --quiet. */
export function progressFor(quiet: boolean): Progress {
  return new Progress(quiet ? "quiet" : isTerminal(1) ? "tty" : "plain", writeOut);
}

/** `hako pull`. */
export async function pull(paths: Paths, argv: string[]) {
  const a = parse("pull", {
    "--platform": String,
    "--quiet": Boolean,
    "-q": "--quiet",
    "--insecure-registry": Strings,
  }, argv);
  needArgs("pull", a._, 1, "[OPTIONS] NAME[:TAG|@DIGEST]");
  const progress = progressFor(!!a["--quiet"]);
  try {
    await pullImage(paths.root, a._[0], {
      platform: a["--platform"],
      progress,
      insecureRegistries: a["--insecure-registry"],
    });
  } catch (e) {
    transferFailed(e);
  } finally {
    progress.close();
  }
  const r = parseRemote(a._[0]);
  writeOut(
    `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ""}${
      r.digest ? `@${r.digest}` : ""
    }\n`,
  );
  return 0;
}
