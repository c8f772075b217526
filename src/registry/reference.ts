/**
 * Image references as a registry sees them: which host to talk to, which repository on
 * it, and which tag or digest. Docker Hub's short names are expanded the way Docker does
 * (`alpine` → `docker.io/library/alpine`, `user/app` → `docker.io/user/app`), and the
 * local store keeps Docker's familiar form (`alpine:latest`, `127.0.0.1:5000/app:2`), so
 * `hako run alpine` finds what `hako pull alpine` fetched.
 */

import { UsageError } from "../errors.ts";
import { parseReference } from "../image/reference.ts";

/** Docker Hub's canonical registry name. */
export const DOCKER_HUB = "docker.io";
/** The host Docker Hub serves the distribution API on. */
export const DOCKER_HUB_API = "registry-1.docker.io";

/** A fully qualified remote reference. */
export interface RemoteReference {
  /** Registry host with optional port, canonical (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path on that registry (`library/alpine`, `webapp`). */
  repository: string;
  /** Tag; absent when only a digest was given. */
  tag?: string;
  /** Manifest digest when the reference pins one. */
  digest?: string;
}

/**
 * Parses and normalises a reference; throws UsageError for an invalid one.
 *
 * @example
 * ```ts
 * parseRemote("alpine"); // {registry: "docker.io", repository: "library/alpine", tag: "latest"}
 * parseRemote("127.0.0.1:5000/webapp:2"); // {registry: "127.0.0.1:5000", repository: "webapp", tag: "2"}
 * ```
 */
export function parseRemote(ref: string): RemoteReference {
  const r = parseReference(ref);
  let registry = DOCKER_HUB, repository = r.name;
  const slash = r.name.indexOf("/");
  if (slash >= 0) {
    const first = r.name.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first;
      repository = r.name.slice(slash + 1);
    }
  }
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  const out: RemoteReference = { registry, repository };
  if (r.tag !== undefined) out.tag = r.tag;
  if (r.digest !== undefined) out.digest = r.digest;
  return out;
}

/** The repository name as the local store and Docker show it (`alpine`, `host:5000/app`). */
export function familiarName(r: RemoteReference): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith("library/") && r.repository.split("/").length === 2
    ? r.repository.slice(8)
    : r.repository;
}

/** `name:tag` / `name@digest` in familiar form, as printed to the user. */
export function familiarString(r: RemoteReference): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : "") +
    (r.digest !== undefined ? `@${r.digest}` : "");
}

/** The key `name:tag` the local store indexes a pulled tag under, or null for a digest. */
export function localTagKey(r: RemoteReference): string | null {
  return r.tag !== undefined ? `${familiarName(r)}:${r.tag}` : null;
}

/** The host[:port] the distribution API is served on for a registry. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** The repository name as the registry's token scopes name it (`library/alpine`). */
export function scope(repository: string, actions: string): string {
  return `repository:${repository}:${actions}`;
}

/**
 * The registry a `login`/`logout` argument names: a bare host, a URL
 * (`https://index.docker.io/v1/` is Docker Hub), or nothing (Docker Hub).
 */
export function registryFromServer(server: string | undefined): string {
  if (!server) return DOCKER_HUB;
  let s = server.trim().replace(/^[a-z]+:\/\//i, "");
  s = s.split("/")[0].toLowerCase();
  if (!s) throw new UsageError(`invalid registry address ${JSON.stringify(server)}`);
  if (s === "index.docker.io" || s === DOCKER_HUB_API) return DOCKER_HUB;
  return s;
}

/** True for a registry on this machine (localhost, 127.0.0.0/8, ::1), which may use HTTP. */
export function isLoopback(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(1, registry.indexOf("]"))
    : registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
