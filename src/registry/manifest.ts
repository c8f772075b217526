/**
 * The four manifest formats a registry may answer with, told apart by media type (header
 * or body), validated before anything is fetched on their word:
 *
 * - OCI image manifest and Docker schema2 manifest: a config blob plus layer blobs;
 * - OCI image index and Docker manifest list: one manifest per platform, from which
 *   `--platform` (default: this host) picks one.
 *
 * Docker schema1, foreign (Windows) and encrypted layers are refused with a sentence
 * saying so.
 */

import { InvalidDataError, NotFoundError, UsageError } from "../errors.ts";
import { isDigest } from "../image/digest.ts";
import type { Descriptor, Manifest } from "../image/oci.ts";

/** Media types of manifests. */
export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/** The Accept header a manifest GET sends: everything hako can pull. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
].join(", ");

const SCHEMA1 = "application/vnd.docker.distribution.manifest.v1";

const CONFIG_TYPES = new Set([
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
]);

const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.diff.tar.zstd",
]);

/** A platform as image indexes name them. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** One entry of an image index / manifest list. */
export interface IndexEntry extends Descriptor {
  platform?: Platform & { "os.version"?: string; "os.features"?: string[] };
}

/** A parsed, validated manifest of either kind. */
export type ParsedManifest =
  | { kind: "image"; mediaType: string; manifest: Manifest }
  | { kind: "index"; mediaType: string; manifests: IndexEntry[] };

const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armhf: "arm" };

/**
 * Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`); UsageError when malformed.
 *
 * @example
 * ```ts
 * parsePlatform("linux/arm64"); // {os: "linux", architecture: "arm64"}
 * ```
 */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new UsageError(`invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0], architecture: ARCH_ALIASES[parts[1]] ?? parts[1] };
  if (parts[2]) p.variant = parts[2];
  return p;
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Default variants, so `linux/arm64` matches an entry that says `v8` and the reverse. */
function variantOf(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === "arm64") return "v8";
  return undefined;
}

/** True when an image's or entry's platform satisfies the wanted one. */
export function platformMatches(have: Partial<Platform>, want: Platform): boolean {
  if (have.os !== want.os) return false;
  if ((ARCH_ALIASES[have.architecture ?? ""] ?? have.architecture) !== want.architecture) {
    return false;
  }
  if (!want.variant) return true;
  return variantOf(have as Platform) === variantOf(want);
}

function bad(what: string, why: string): InvalidDataError {
  return new InvalidDataError(`malformed manifest for ${what}: ${why}`);
}

function descriptor(what: string, d: unknown, field: string): Descriptor {
  const x = d as Descriptor;
  if (typeof x !== "object" || x === null) throw bad(what, `${field} is not a descriptor`);
  if (typeof x.digest !== "string" || !isDigest(x.digest)) {
    throw bad(what, `${field} has no sha256 digest`);
  }
  if (!Number.isSafeInteger(x.size) || x.size < 0) throw bad(what, `${field} has no valid size`);
  if (typeof x.mediaType !== "string") throw bad(what, `${field} has no media type`);
  return x;
}

/**
 * Parses manifest bytes; `contentType` is the response's Content-Type (the body's own
 * mediaType wins when present). `what` names the reference for error messages.
 */
export function parseManifest(bytes: Uint8Array, contentType: string, what: string) {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw bad(what, "not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw bad(what, "not a JSON object");
  }
  const header = contentType.split(";")[0].trim();
  const mediaType = typeof doc.mediaType === "string" && doc.mediaType
    ? doc.mediaType
    : header !== "application/json" && header !== "" && header !== "text/plain"
    ? header
    : Array.isArray(doc.manifests)
    ? MEDIA_TYPES.ociIndex
    : MEDIA_TYPES.ociManifest;
  if (doc.schemaVersion === 1 || mediaType.startsWith(SCHEMA1)) {
    throw new InvalidDataError(
      `${what} uses the Docker schema 1 manifest format, which hako does not pull`,
    );
  }
  if (doc.schemaVersion !== 2) throw bad(what, "schemaVersion is not 2");
  if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList) {
    if (!Array.isArray(doc.manifests)) throw bad(what, "an index without a manifests list");
    const manifests = doc.manifests.map((m, i) =>
      descriptor(what, m, `manifests[${i}]`) as IndexEntry
    );
    return { kind: "index", mediaType, manifests } as ParsedManifest;
  }
  if (mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest) {
    throw new InvalidDataError(`${what} is not a container image (media type ${mediaType})`);
  }
  const config = descriptor(what, doc.config, "config");
  if (!CONFIG_TYPES.has(config.mediaType)) {
    throw new InvalidDataError(
      `${what} is not a container image (config media type ${config.mediaType})`,
    );
  }
  if (!Array.isArray(doc.layers)) throw bad(what, "no layers list");
  const layers = doc.layers.map((l, i) => descriptor(what, l, `layers[${i}]`));
  for (const l of layers) {
    if (l.mediaType.includes("foreign") || l.mediaType.includes("nondistributable")) {
      throw new InvalidDataError(
        `${what} has a foreign layer ${l.digest} (Windows base images are not supported)`,
      );
    }
    if (l.mediaType.includes("encrypted")) {
      throw new InvalidDataError(`${what} has an encrypted layer ${l.digest}`);
    }
    if (!LAYER_TYPES.has(l.mediaType)) {
      throw new InvalidDataError(`${what} has a layer of unknown media type ${l.mediaType}`);
    }
  }
  const manifest = { ...doc, mediaType, config, layers } as unknown as Manifest;
  return { kind: "image", mediaType, manifest } as ParsedManifest;
}

/**
 * Picks the entry of an index for a platform; NotFoundError listing what the index has.
 */
export function selectPlatform(manifests: IndexEntry[], want: Platform, what: string): IndexEntry {
  const usable = manifests.filter((m) =>
    m.platform && m.platform.os !== "unknown" && m.platform.architecture !== "unknown"
  );
  const exact = usable.find((m) => platformMatches(m.platform!, want));
  if (exact) return exact;
  const have = usable.map((m) => formatPlatform(m.platform!)).join(", ") || "none";
  throw new NotFoundError(
    `no matching manifest for ${
      formatPlatform(want)
    } in the manifest list of ${what} (it has: ${have})`,
  );
}
