/**
 * Where hako keeps what the registry client reads besides the image store:
 *
 * ```
 * $HAKO_CONFIG                   (default $XDG_CONFIG_HOME/hako, else $HOME/.config/hako)
 *   auth.json                    credentials from `hako login`, mode 0600 (Docker's format)
 *   config.json                  {"insecure-registries": ["host:port", ...]}
 *   certs.d/<host[:port]>/*.crt  extra CA certificates for one registry
 * ```
 *
 * TLS trusts the system's CA bundle plus any certs.d file (hako's, then Docker's
 * /etc/docker/certs.d and podman's /etc/containers/certs.d, the same layout). Plain HTTP is
 * allowed only for a loopback registry or one listed as insecure; TLS is never unverified.
 */

import { env } from "../../ffi/host.ts";
import { readDir, readJsonOr, readText } from "../../ffi/fs.ts";
import { InvalidDataError } from "../errors.ts";
import { isLoopback } from "./reference.ts";

/** The hako configuration directory. */
export function configDir(): string {
  const explicit = env("HAKO_CONFIG");
  if (explicit) return explicit.replace(/\/+$/, "");
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/hako`;
  return `${env("HOME") || "/root"}/.config/hako`;
}

/** What config.json may say. */
export interface ClientConfig {
  "insecure-registries"?: string[];
}

/** Reads `<dir>/config.json` (empty when absent). */
export async function readClientConfig(dir = configDir()): Promise<ClientConfig> {
  try {
    return await readJsonOr<ClientConfig>(`${dir}/config.json`, {});
  } catch (e) {
    throw new InvalidDataError(`read ${dir}/config.json: ${(e as Error).message}`, { cause: e });
  }
}

/** True when plain HTTP may be used for `registry`. */
export function allowsHttp(registry: string, insecure: readonly string[]): boolean {
  return isLoopback(registry) || insecure.includes(registry);
}

const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/ssl/cert.pem", // Alpine, macOS
];

/** The PEM certificates in a file. */
function pemCerts(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The system's CA bundle (the first one found) plus the registry's certs.d certificates. */
export async function trustedCerts(registry: string, dir = configDir()): Promise<string[]> {
  const out: string[] = [];
  for (const p of SYSTEM_BUNDLES) {
    const text = await readText(p).catch(() => null);
    if (text) {
      out.push(...pemCerts(text));
      break;
    }
  }
  for (const base of [`${dir}/certs.d`, "/etc/docker/certs.d", "/etc/containers/certs.d"]) {
    const d = `${base}/${registry}`;
    for (const n of (await readDir(d)).sort()) {
      if (n.endsWith(".crt")) out.push(...pemCerts(await readText(`${d}/${n}`)));
    }
  }
  return out;
}
