/**
 * Flag parsing for every subcommand, on the `arg` package: Docker's long and short forms,
 * repeatable flags, combined short booleans (`-it`), and options stop at the first
 * positional (the image), so `run IMG sh -c ...` keeps the command's own flags.
 */

import arg from "arg";
import { UsageError } from "../errors.ts";
import type { LimitFlags } from "../cgroups/mod.ts";

/** A flag table in `arg`'s format. */
export type Spec = arg.Spec;

/** Parses `argv` against `spec`, mapping arg's errors to one clear UsageError. */
export function parse<T extends Spec>(
  command: string,
  spec: T,
  argv: string[],
  stopAtPositional = false,
): arg.Result<T> {
  try {
    return arg(spec, {
      argv: negativeValues(spec, argv, stopAtPositional),
      permissive: false,
      stopAtPositional,
    });
  } catch (e) {
    const msg = (e as Error).message;
    const m = /unknown or unexpected option: (.*)/.exec(msg);
    if (m) throw new UsageError(`unknown flag: ${m[1]}\nSee 'hako ${command} --help'`);
    throw new UsageError(`${command}: ${msg}`);
  }
}

/**
 * Rewrites `--flag -1` as `--flag=-1` for string flags: `arg` takes a value starting with "-"
 * only for Number flags, while Docker's flag parser takes the next word for any flag with a
 * value, and `--memory-swap -1` / `--pids-limit -1` are common forms.
 */
function negativeValues(spec: Spec, argv: string[], stopAtPositional: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--" || (!a.startsWith("-") && stopAtPositional)) {
      out.push(...argv.slice(i));
      break;
    }
    let name = a;
    let type: unknown = spec[a];
    for (let n = 0; typeof type === "string" && n < 8; n++) type = spec[name = type];
    const stringFlag = type === String || (Array.isArray(type) && type[0] === String);
    if (a.startsWith("-") && !a.includes("=") && stringFlag && i + 1 < argv.length) {
      const v = argv[++i];
      if (/^-\d+(\.\d+)?$/.test(v)) out.push(`${name}=${v}`);
      else out.push(a, v);
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Repeatable string flag. */
export const Strings = [String] as [StringConstructor];

/** Requires exactly/at least `n` positional arguments. */
export function needArgs(command: string, rest: string[], min: number, usage: string) {
  if (rest.length < min) {
    throw new UsageError(
      `"hako ${command}" requires at least ${min} argument${
        min === 1 ? "" : "s"
      }\nUsage:  hako ${command} ${usage}`,
    );
  }
}

/** The resource-limit flags `run`, `create` and `update` share (Docker's names). */
export const LIMIT_FLAGS = {
  "--memory": String,
  "-m": "--memory",
  "--memory-swap": String,
  "--memory-reservation": String,
  "--cpus": String,
  "--cpu-shares": String,
  "-c": "--cpu-shares",
  "--cpu-period": String,
  "--cpu-quota": String,
  "--cpuset-cpus": String,
  "--cpuset-mems": String,
  "--pids-limit": String,
  "--blkio-weight": String,
} as const;

/** The values of LIMIT_FLAGS (and --oom-kill-disable) in parseLimits' form. */
// deno-lint-ignore no-explicit-any
export function limitValues(a: Record<string, any>): LimitFlags {
  return {
    memory: a["--memory"],
    "memory-swap": a["--memory-swap"],
    "memory-reservation": a["--memory-reservation"],
    cpus: a["--cpus"],
    "cpu-shares": a["--cpu-shares"],
    "cpu-period": a["--cpu-period"],
    "cpu-quota": a["--cpu-quota"],
    "cpuset-cpus": a["--cpuset-cpus"],
    "cpuset-mems": a["--cpuset-mems"],
    "pids-limit": a["--pids-limit"],
    "oom-kill-disable": a["--oom-kill-disable"] || undefined,
    "blkio-weight": a["--blkio-weight"],
  };
}
