/** `hako login [OPTIONS] [SERVER]` and `hako logout [SERVER]`. */

import { readStdin, writeErr, writeOut } from "../../ffi/host.ts";
import type { Paths } from "../engine/paths.ts";
import { UsageError } from "../errors.ts";
import { login as loginTo, logout as logoutFrom } from "../registry/login.ts";
import { registryFromServer } from "../registry/reference.ts";
import { parse, Strings } from "./parse.ts";
import { transferFailed } from "./pull.ts";

/** `hako login -u USER --password-stdin [SERVER]`. */
export async function login(_paths: Paths, argv: string[]) {
  const a = parse("login", {
    "--username": String,
    "-u": "--username",
    "--password": String,
    "-p": "--password",
    "--password-stdin": Boolean,
    "--insecure-registry": Strings,
  }, argv);
  const registry = registryFromServer(a._[0]);
  const username = a["--username"];
  if (!username) throw new UsageError("login: give the user name with -u/--username");
  let password = a["--password"];
  if (a["--password-stdin"]) {
    if (password !== undefined) {
      throw new UsageError("login: --password and --password-stdin are mutually exclusive");
    }
    password = new TextDecoder().decode(await readStdin()).replace(/\r?\n$/, "");
  } else if (password !== undefined) {
    writeErr("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  if (!password) throw new UsageError("login: give the password with --password-stdin");
  const file = await loginTo(registry, { username, password }, {
    insecureRegistries: a["--insecure-registry"],
  }).catch(transferFailed);
  writeOut(`Credentials saved in ${file}\nLogin Succeeded\n`);
  return 0;
}

/** `hako logout [SERVER]`. */
export async function logout(_paths: Paths, argv: string[]) {
  const a = parse("logout", {}, argv);
  const registry = registryFromServer(a._[0]);
  if (await logoutFrom(registry)) writeOut(`Removing login credentials for ${registry}\n`);
  else writeOut(`Not logged in to ${registry}\n`);
  return 0;
}
