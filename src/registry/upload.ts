/**
 * Uploading one blob from the store into an upload session (distribution spec "pushing
 * blobs"): a blob up to `chunkSize` goes in one monolithic `PUT ?digest=`; a larger one
 * as `PATCH` chunks with Content-Range, then a closing `PUT ?digest=`. When a chunk's
 * connection breaks, the session's status (`GET` → `Range: 0-N`) says where to go on;
 * when the session itself is lost, the upload starts over in a new one, once.
 */

import * as fs from "node:fs/promises";
import type { Repository } from "./client.ts";
import { errorSummary, RegistryProtocolError, RegistryUnavailableError } from "./errors.ts";

/** Options for an upload. */
export interface UploadOptions {
  /** Blobs larger than this are sent in chunks of this size (default 32 MiB). */
  chunkSize?: number;
  /** Called with the size of each part sent. */
  onBytes?: (n: number) => void;
}

/** What to upload. */
export interface UploadBlob {
  digest: string;
  size: number;
  /** The blob file in the local store. */
  path: string;
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set("digest", digest);
  return u.toString();
}

async function readAt(fh: fs.FileHandle, pos: number, len: number): Promise<Uint8Array> {
  const buf = new Uint8Array(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, pos + off);
    if (bytesRead === 0) throw new Error(`unexpected end of blob file at byte ${pos + off}`);
    off += bytesRead;
  }
  return buf;
}

async function finish(repo: Repository, res: Response, blob: UploadBlob): Promise<void> {
  if (res.status === 201 || res.status === 204 || res.ok) {
    await res.body?.cancel().catch(() => {});
    return;
  }
  throw new RegistryProtocolError(
    `upload of blob ${blob.digest} to ${repo.label}: ${await errorSummary(res)}`,
  );
}

/**
 * How many bytes an upload session holds (its `Range: 0-N`) and the Location to go on
 * with (registries may keep the session's state in it), or null when it is gone.
 */
async function uploaded(repo: Repository, location: string) {
  const res = await repo.transport.request("GET", location, { scopes: repo.scopes });
  await res.body?.cancel().catch(() => {});
  if (res.status !== 204 && !res.ok) return null;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get("range") ?? "");
  return {
    have: m ? Number(m[1]) + 1 : 0,
    location: repo.transport.url(res.headers.get("location") ?? location),
  };
}

async function chunked(
  repo: Repository,
  location: string,
  fh: fs.FileHandle,
  blob: UploadBlob,
  chunk: number,
  onBytes?: (n: number) => void,
): Promise<void> {
  let offset = 0, failures = 0;
  while (offset < blob.size) {
    const len = Math.min(chunk, blob.size - offset);
    const body = await readAt(fh, offset, len);
    let res: Response | null = null;
    let failure: unknown = null;
    try {
      res = await repo.transport.request("PATCH", location, {
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${offset + len - 1}`,
        },
        body,
        scopes: repo.scopes,
        retry: false,
      });
    } catch (e) {
      if (!(e instanceof RegistryUnavailableError)) throw e;
      failure = e;
    }
    if (res && res.status !== 202) {
      failure = new RegistryProtocolError(
        `upload of blob ${blob.digest} to ${repo.label} at byte ${offset}: ${await errorSummary(
          res,
        )}`,
      );
    }
    if (failure !== null) {
      // The chunk may or may not have landed: ask the session. (Distribution keeps the
      // offset in the Location's signed _state, so after a lost answer it refuses the old
      // Location; the caller then starts over in a new session.)
      const now = ++failures > 5 ? null : await uploaded(repo, location).catch(() => null);
      if (now === null || now.have > offset + len) throw failure;
      offset = now.have;
      location = now.location;
      continue;
    }
    await res!.body?.cancel().catch(() => {});
    location = repo.transport.url(res!.headers.get("location") ?? location);
    offset += len;
    onBytes?.(len);
  }
  const res = await repo.transport.request("PUT", withDigest(location, blob.digest), {
    headers: { "content-length": "0" },
    scopes: repo.scopes,
  });
  await finish(repo, res, blob);
}

/**
 * Uploads a blob into the session at `location` (from Repository.startUpload); a failed
 * session is started over once.
 */
export async function uploadBlob(
  repo: Repository,
  location: string,
  blob: UploadBlob,
  opts: UploadOptions = {},
): Promise<void> {
  const chunk = opts.chunkSize ?? 32 * 1024 * 1024;
  const fh = await fs.open(blob.path, "r");
  try {
    for (let attempt = 0;; attempt++) {
      try {
        if (blob.size <= chunk) {
          const body = await readAt(fh, 0, blob.size);
          const res = await repo.transport.request("PUT", withDigest(location, blob.digest), {
            headers: { "content-type": "application/octet-stream" },
            body,
            scopes: repo.scopes,
          });
          await finish(repo, res, blob);
          opts.onBytes?.(blob.size);
        } else {
          await chunked(repo, location, fh, blob, chunk, opts.onBytes);
        }
        return;
      } catch (e) {
        // A reply lost after the registry already committed the blob is not a failure.
        if (await repo.hasBlob(blob.digest).catch(() => false)) return;
        const transient = e instanceof RegistryUnavailableError ||
          e instanceof RegistryProtocolError;
        if (attempt > 0 || !transient) throw e;
        const fresh = await repo.startUpload();
        if (fresh === "mounted") return;
        location = fresh;
      }
    }
  } finally {
    await fh.close();
  }
}
