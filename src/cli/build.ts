/** `hako build [OPTIONS] PATH`: build an image from a Dockerfile. */

import { env, onSignal, readStdin, writeErr, writeOut } from "../../ffi/host.ts";
import { readText, writeFile } from "../../ffi/fs.ts";
import { build } from "../build/builder.ts";
import type { Paths } from "../engine/paths.ts";
import { HakoError, UsageError } from "../errors.ts";
import { needArgs, parse } from "./parse.ts";

function keyValueList(flag: string, list: string[] = [], fromEnv = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i === 0) throw new UsageError(`invalid ${flag} "${kv}": the name is empty`);
    if (i < 0) {
      // `--build-arg NAME` takes the value from hako's own environment, as Docker does.
      const v = fromEnv ? env(kv) : "";
      if (v !== undefined) out[kv] = v;
    } else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** `hako build`. */
export async function buildCommand(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("build", {
    "--tag": [String],
    "-t": "--tag",
    "--file": String,
    "-f": "--file",
    "--build-arg": [String],
    "--no-cache": Boolean,
    "--target": String,
    "--label": [String],
    "--network": String,
    "--quiet": Boolean,
    "-q": "--quiet",
    "--iidfile": String,
    "--rm": Boolean,
    "--force-rm": Boolean,
  }, argv);
  needArgs("build", a._, 1, "[OPTIONS] PATH");
  if (a._.length > 1) {
    throw new UsageError(`"hako build" requires exactly 1 argument (the context)`);
  }
  const context = a._[0];
  const file = a["--file"];
  let dockerfile: { text: string; name: string; path?: string };
  if (file === "-") {
    dockerfile = { text: new TextDecoder().decode(await readStdin()), name: "Dockerfile" };
  } else {
    const path = file ?? `${context.replace(/\/+$/, "")}/Dockerfile`;
    const text = await readText(path).catch(() => {
      throw new UsageError(`unable to read the Dockerfile ${path}: no such file`);
    });
    dockerfile = { text, name: file ?? "Dockerfile", path };
  }
  const quiet = !!a["--quiet"];
  const ctrl = new AbortController();
  let signal = 0;
  const off = [
    onSignal("SIGINT", () => (signal ||= 2, ctrl.abort())),
    onSignal("SIGTERM", () => (signal ||= 15, ctrl.abort())),
  ];
  try {
    const r = await build(paths, {
      context,
      dockerfile,
      tags: a["--tag"],
      buildArgs: keyValueList("--build-arg", a["--build-arg"], true),
      noCache: !!a["--no-cache"],
      target: a["--target"],
      labels: keyValueList("--label", a["--label"]),
      network: a["--network"],
      progress: quiet ? undefined : (l) => writeOut(l),
      output: quiet ? undefined : (c) => writeOut(c),
      signal: ctrl.signal,
    });
    if (quiet) writeOut(r.id + "\n");
    if (a["--iidfile"]) await writeFile(a["--iidfile"], r.id);
    return 0;
  } catch (e) {
    if (signal && e instanceof HakoError) {
      writeErr(`hako: build interrupted; no image was written\n`);
      return 128 + signal;
    }
    throw e;
  } finally {
    for (const f of off) f();
  }
}
