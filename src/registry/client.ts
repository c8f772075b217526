/**
 * The distribution API for one repository: manifests (GET/PUT), blobs (HEAD/GET), and the
 * upload endpoints (POST, cross-repository mount). Long transfers live beside it:
 * download.ts (resumable blob GET) and upload.ts (monolithic or chunked blob upload).
 */

import { createHash } from "node:crypto";
import { InvalidDataError, NotFoundError } from "../errors.ts";
import type { Descriptor } from "../image/oci.ts";
import { errorSummary, RegistryProtocolError } from "./errors.ts";
import { MANIFEST_ACCEPT } from "./manifest.ts";
import { scope } from "./reference.ts";
import { Transport } from "./transport.ts";

/** Manifests larger than this are refused (the spec suggests registries cap at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** sha256 digest of bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** A manifest as fetched: its exact bytes (the digest covers them), type and digest. */
export interface FetchedManifest {
  bytes: Uint8Array;
  contentType: string;
  digest: string;
}

/** Reads a response body up to `limit` bytes; InvalidDataError when it is longer. */
export async function readLimited(res: Response, limit: number, what: string) {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body ?? []) {
    n += c.length;
    if (n > limit) {
      await res.body?.cancel().catch(() => {});
      throw new InvalidDataError(`${what} is larger than ${limit} bytes`);
    }
    parts.push(c);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** One repository on a registry, with the token scopes its operations need. */
export class Repository {
  /** Scopes every request of this repository asks for (pull, or pull+push). */
  readonly scopes: string[];

  constructor(readonly transport: Transport, readonly name: string, push = false) {
    this.scopes = [scope(name, push ? "pull,push" : "pull")];
  }

  #path(kind: string, ref: string) {
    return `/v2/${this.name}/${kind}/${ref}`;
  }

  /** `registry/name` for messages. */
  get label(): string {
    return `${this.transport.registry}/${this.name}`;
  }

  /**
   * Fetches a manifest by tag or digest. A digest reference is verified against the bytes;
   * a tag is checked against the Docker-Content-Digest header when the registry sends one.
   */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const sep = reference.startsWith("sha256:") ? "@" : ":";
    const what = `${this.label}${sep}${reference}`;
    const res = await this.transport.request("GET", this.#path("manifests", reference), {
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes,
    });
    if (res.status === 404) {
      throw new NotFoundError(`manifest for ${what} not found: ${await errorSummary(res)}`);
    }
    if (!res.ok) {
      throw new RegistryProtocolError(`GET manifest ${what}: ${await errorSummary(res)}`);
    }
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest for ${what}`);
    const digest = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new InvalidDataError(
        `manifest for ${what} does not match its digest (got ${digest})`,
      );
    }
    const header = res.headers.get("docker-content-digest");
    if (header && header.startsWith("sha256:") && header !== digest) {
      throw new InvalidDataError(
        `manifest for ${what} does not match the registry's Docker-Content-Digest ${header} (got ${digest})`,
      );
    }
    return { bytes, contentType: res.headers.get("content-type") ?? "", digest };
  }

  /** PUTs a manifest under a tag or digest; returns the digest the registry computed. */
  async putManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const res = await this.transport.request("PUT", this.#path("manifests", reference), {
      headers: { "content-type": mediaType },
      body: bytes,
      scopes: this.scopes,
    });
    if (res.status !== 201 && !res.ok) {
      throw new RegistryProtocolError(
        `PUT manifest ${this.label}:${reference}: ${await errorSummary(res)}`,
      );
    }
    await res.body?.cancel().catch(() => {});
    return res.headers.get("docker-content-digest") ?? sha256Digest(bytes);
  }

  /** Whether the repository has a blob (HEAD), so nothing present is uploaded again. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.transport.request("HEAD", this.#path("blobs", digest), {
      scopes: this.scopes,
    });
    await res.body?.cancel().catch(() => {});
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw new RegistryProtocolError(`HEAD blob ${this.label}@${digest}: ${res.status}`);
  }

  /** GETs a blob, from byte `offset` on when it is not 0 (Range). */
  async getBlob(digest: string, offset = 0): Promise<Response> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.transport.request("GET", this.#path("blobs", digest), {
      headers,
      scopes: this.scopes,
    });
    if (res.status === 404) {
      throw new NotFoundError(
        `blob ${digest} not found in ${this.label}: ${await errorSummary(res)}`,
      );
    }
    if (!res.ok) {
      throw new RegistryProtocolError(
        `GET blob ${this.label}@${digest}: ${await errorSummary(res)}`,
      );
    }
    return res;
  }

  /** Fetches a small blob (an image config) whole and verifies its size and digest. */
  async getSmallBlob(desc: Descriptor, limit = 16 * 1024 * 1024): Promise<Uint8Array> {
    const res = await this.getBlob(desc.digest);
    const bytes = await readLimited(res, Math.min(limit, desc.size), `blob ${desc.digest}`);
    const got = sha256Digest(bytes);
    if (got !== desc.digest) {
      throw new InvalidDataError(
        `blob ${desc.digest} from ${this.label} does not match its digest (got ${got})`,
      );
    }
    return bytes;
  }

  /**
   * Starts an upload; with `mountFrom`, first asks the registry to mount the blob from
   * another repository on it. Returns "mounted", or the upload session's Location.
   */
  async startUpload(digest?: string, mountFrom?: string): Promise<"mounted" | string> {
    let path = `/v2/${this.name}/blobs/uploads/`;
    const scopes = [...this.scopes];
    if (digest && mountFrom) {
      path += `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`;
      scopes.push(scope(mountFrom, "pull"));
    }
    const res = await this.transport.request("POST", path, { scopes });
    const loc = res.headers.get("location");
    if ((res.status === 201 && mountFrom) || (res.status === 202 && loc)) {
      await res.body?.cancel().catch(() => {});
      return res.status === 201 ? "mounted" : this.transport.url(loc!);
    }
    throw new RegistryProtocolError(`start upload to ${this.label}: ${await errorSummary(res)}`);
  }
}
