/**
 * The build cache: for each step, the state it ran on (the parent's layer chain and
 * config), the step as expanded, and the digest of what it copies, mapped to what the step
 * made (a layer, or nothing for a config-only step). Entries live in
 * `<root>/buildcache/<key>.json`; a hit whose layer has since been removed (rmi, prune) is a
 * miss.
 */

import { exists, readJsonOr, writeJsonAtomic } from "../../ffi/fs.ts";
import * as hfs from "../../ffi/fs.ts";
import { sha256 } from "../image/blob.ts";
import { digestHex } from "../image/digest.ts";
import type { DraftLayer, ImageDraft } from "../image/draft.ts";
import { storePaths } from "../image/store.ts";

/** What a cache entry records. */
export interface CacheEntry {
  /** The layer the step made; null for a step that changed only the config. */
  layer: DraftLayer | null;
  /** The history entry's creation time. */
  created: string;
  createdBy: string;
}

/** The directory of the build cache in a store. */
export function cacheDir(root: string): string {
  return `${root}/buildcache`;
}

/** The key of the state a step runs on: its layers and its config. */
export function stateKey(d: ImageDraft): string {
  return sha256(JSON.stringify({
    diffIds: d.config.rootfs.diff_ids,
    config: d.config.config ?? {},
    os: d.config.os,
    arch: d.config.architecture,
  }));
}

/** The cache key of a step: parent state, the step as expanded, the digest of its input. */
export function stepKey(parent: string, step: string, content = ""): string {
  return sha256(`${parent}\n${step}\n${content}`);
}

/** Looks a step up; null on a miss. */
export async function cacheGet(root: string, key: string): Promise<CacheEntry | null> {
  const e = await readJsonOr<CacheEntry | null>(`${cacheDir(root)}/${digestHex(key)}.json`, null)
    .catch(() => null);
  if (!e) return null;
  if (e.layer && !(await exists(storePaths(root).layerJson(e.layer.diffId)))) return null;
  return e;
}

/** Records what a step made. */
export async function cachePut(root: string, key: string, e: CacheEntry): Promise<void> {
  await hfs.mkdir(cacheDir(root));
  await writeJsonAtomic(`${cacheDir(root)}/${digestHex(key)}.json`, e);
}

/** Every cache entry (file name → entry). */
export async function cacheEntries(root: string): Promise<Map<string, CacheEntry>> {
  const out = new Map<string, CacheEntry>();
  for (const n of await hfs.readDir(cacheDir(root))) {
    if (!n.endsWith(".json")) continue;
    const e = await readJsonOr<CacheEntry | null>(`${cacheDir(root)}/${n}`, null).catch(() => null);
    if (e) out.set(n, e);
  }
  return out;
}
