/**
 * Flag parsing for every subcommand, on the `arg` package: Docker's long and short forms,
 * repeatable flags, combined short booleans (`-it`), and options stop at the first
 * positional (the image), so `run IMG sh -c ...` keeps the command's own flags.
 */

import arg from "arg";
import { UsageError } from "../errors.ts";

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
    return arg(spec, { argv, permissive: false, stopAtPositional });
  } catch (e) {
    const msg = (e as Error).message;
    const m = /unknown or unexpected option: (.*)/.exec(msg);
    if (m) throw new UsageError(`unknown flag: ${m[1]}\nSee 'hako ${command} --help'`);
    throw new UsageError(`${command}: ${msg}`);
  }
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
