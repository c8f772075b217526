/**
 * Which registry repositories are known to hold a blob, learnt from pulls and pushes, so a
 * push to another repository of the same registry can ask for a cross-repository mount
 * instead of uploading the bytes again (Docker keeps the same "v2 metadata").
 *
 * `<root>/distribution.json`: `{"sha256:…": ["127.0.0.1:5000/webapp", …]}`, newest first,
 * a few per blob. It is advice only: a stale entry costs one refused mount.
 */

import { readJsonOr, writeJsonAtomic } from "../../ffi/fs.ts";
import { withStoreLock } from "../image/lock.ts";

const KEEP = 8;

function path(root: string): string {
  return `${root}/distribution.json`;
}

/** Repositories (`registry/name`) known to hold a blob. */
export async function blobSources(root: string, digest: string): Promise<string[]> {
  const all = await readJsonOr<Record<string, string[]>>(path(root), {}).catch(() => ({}));
  return (all as Record<string, string[]>)[digest] ?? [];
}

/** Notes that `repo` (`registry/name`) holds these blobs. */
export async function addBlobSources(root: string, repo: string, digests: string[]) {
  if (!digests.length) return;
  await withStoreLock(root, async () => {
    const all = await readJsonOr<Record<string, string[]>>(path(root), {}).catch(() => ({}));
    const map = all as Record<string, string[]>;
    for (const d of digests) {
      map[d] = [repo, ...(map[d] ?? []).filter((r) => r !== repo)].slice(0, KEEP);
    }
    await writeJsonAtomic(path(root), map);
  });
}
