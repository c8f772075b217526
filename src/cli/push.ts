/** `hako push [OPTIONS] NAME[:TAG] [DEST]`. */

import type { Paths } from "../engine/paths.ts";
import { pushImage } from "../registry/push.ts";
import { needArgs, parse, Strings } from "./parse.ts";
import { progressFor, transferFailed } from "./pull.ts";

/** `hako push`: DEST defaults to NAME, which must then name a registry repository. */
export async function push(paths: Paths, argv: string[]) {
  const a = parse("push", {
    "--quiet": Boolean,
    "-q": "--quiet",
    "--insecure-registry": Strings,
  }, argv);
  needArgs("push", a._, 1, "[OPTIONS] NAME[:TAG] [REGISTRY/NAME[:TAG]]");
  const progress = progressFor(!!a["--quiet"]);
  try {
    await pushImage(paths.root, a._[0], a._[1], {
      progress,
      insecureRegistries: a["--insecure-registry"],
    });
  } catch (e) {
    transferFailed(e);
  } finally {
    progress.close();
  }
  return 0;
}
