/**
 * Registry credentials. `hako login` writes `<config dir>/auth.json` (see config.ts) with
 * mode 0600 in Docker's config format (`{"auths": {"host": {"auth": base64(user:pass)}}}`),
 * so the file can also be handed to Docker, podman or skopeo. Lookups read it first, then
 * the `auths` of Docker's own `$DOCKER_CONFIG/config.json` (default ~/.docker/config.json).
 * Docker's credential helpers (`credsStore`, `credHelpers`) are not run.
 *
 * A credential is only ever sent in an Authorization header; nothing here puts it in a
 * message, a URL or a process title.
 */

import { env } from "../../ffi/host.ts";
import { mkdir, readJsonOr, writeJsonAtomic } from "../../ffi/fs.ts";
import { InvalidDataError } from "../errors.ts";
import { configDir, readClientConfig } from "./config.ts";
import { registryFromServer } from "./reference.ts";
import type { TransportOptions } from "./transport.ts";

/** A user name and password, or an identity (refresh) token from a Docker login. */
export interface Credential {
  username: string;
  password?: string;
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

/** The file `hako login` writes. */
export function authFilePath(dir = configDir()): string {
  return `${dir}/auth.json`;
}

/** Docker's client config file. */
export function dockerConfigPath(): string {
  const d = env("DOCKER_CONFIG");
  return d ? `${d}/config.json` : `${env("HOME") || "/root"}/.docker/config.json`;
}

async function readAuthFile(path: string): Promise<AuthFile> {
  try {
    return await readJsonOr<AuthFile>(path, {});
  } catch (e) {
    // A JSON parser's message quotes the text around the error, which may be a password.
    const why = e instanceof SyntaxError ? "not valid JSON" : (e as Error).message;
    throw new InvalidDataError(`read credentials ${path}: ${why}`);
  }
}

function decode(entry: AuthEntry): Credential | undefined {
  if (entry.auth) {
    let s: string;
    try {
      s = new TextDecoder().decode(Uint8Array.from(atob(entry.auth), (c) => c.charCodeAt(0)));
    } catch {
      return undefined;
    }
    const i = s.indexOf(":");
    if (i > 0) {
      const c: Credential = { username: s.slice(0, i), password: s.slice(i + 1) };
      if (entry.identitytoken) c.identityToken = entry.identitytoken;
      return c;
    }
  }
  if (entry.username && entry.password) {
    return { username: entry.username, password: entry.password };
  }
  if (entry.identitytoken) {
    return { username: entry.username ?? "", identityToken: entry.identitytoken };
  }
  return undefined;
}

function findIn(file: AuthFile, registry: string): Credential | undefined {
  for (const [key, entry] of Object.entries(file.auths ?? {})) {
    let k: string;
    try {
      k = registryFromServer(key);
    } catch {
      continue;
    }
    if (k === registry && entry) {
      const c = decode(entry);
      if (c) return c;
    }
  }
  return undefined;
}

/** The stored credential for a registry (`docker.io`, `127.0.0.1:5000`), if any. */
export async function findCredential(
  registry: string,
  dir = configDir(),
): Promise<Credential | undefined> {
  return findIn(await readAuthFile(authFilePath(dir)), registry) ??
    findIn(await readAuthFile(dockerConfigPath()), registry);
}

function encode(c: Credential): AuthEntry {
  const bytes = new TextEncoder().encode(`${c.username}:${c.password ?? ""}`);
  const e: AuthEntry = { auth: btoa(String.fromCharCode(...bytes)) };
  if (c.identityToken) e.identitytoken = c.identityToken;
  return e;
}

/** Stores a credential for a registry in auth.json (mode 0600, written atomically). */
export async function storeCredential(
  registry: string,
  cred: Credential,
  dir = configDir(),
): Promise<string> {
  const path = authFilePath(dir);
  await mkdir(dir, { mode: 0o700 });
  const file = await readAuthFile(path);
  const auths = { ...(file.auths ?? {}) };
  for (const k of Object.keys(auths)) {
    if (registryFromServer(k) === registry) delete auths[k];
  }
  auths[registry] = encode(cred);
  await writeJsonAtomic(path, { ...file, auths }, 0o600);
  return path;
}

/** Removes a registry's credential from auth.json; false when there was none. */
export async function removeCredential(registry: string, dir = configDir()): Promise<boolean> {
  const path = authFilePath(dir);
  const file = await readAuthFile(path);
  const auths = { ...(file.auths ?? {}) };
  let found = false;
  for (const k of Object.keys(auths)) {
    if (registryFromServer(k) === registry) {
      delete auths[k];
      found = true;
    }
  }
  if (found) await writeJsonAtomic(path, { ...file, auths }, 0o600);
  return found;
}

/** Fills in the stored credential and the configured insecure registries where not given. */
export async function withDefaults<T extends TransportOptions>(registry: string, opts: T) {
  const credential = opts.credential ?? await findCredential(registry, opts.configDir);
  const insecureRegistries = [
    ...(opts.insecureRegistries ?? []),
    ...(await readClientConfig(opts.configDir))["insecure-registries"] ?? [],
  ];
  return { ...opts, credential, insecureRegistries };
}
