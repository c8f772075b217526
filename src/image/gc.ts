/**
 * What the store uses on disk and reclaiming what nothing needs (`hako system df`,
 * `hako system prune`): images, their layers (each stored once: unpacked dir + blob), and
 * the build cache (layers only cache entries or nothing refer to, e.g. a multi-stage
 * build's builder stages).
 */

import * as fs from "node:fs/promises";
import { isDigest } from "./digest.ts";
import { withStoreLock } from "./lock.ts";
import type { ImageConfig, Manifest } from "./oci.ts";
import { tagsOf } from "./resolve.ts";
import { readImageIndex, readJsonBlob, readRepositories, storePaths } from "./store.ts";
import { removeImage } from "./remove.ts";

/** Bytes a tree takes on disk (allocated blocks, each hard-linked inode counted once). */
export async function diskUsage(path: string, seen = new Set<string>()): Promise<number> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st) return 0;
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  let total = st.blocks * 512;
  if (st.isDirectory()) {
    for (const n of await fs.readdir(path)) total += await diskUsage(`${path}/${n}`, seen);
  }
  return total;
}

/** What images and layers the index refers to. */
export interface References {
  /** image ID → its diff_ids. */
  images: Map<string, { diffIds: string[]; tags: string[] }>;
  layers: Set<string>;
  blobs: Set<string>;
}

/** Reads every indexed image's layers and blobs. */
export async function references(root: string): Promise<References> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  const out: References = { images: new Map(), layers: new Set(), blobs: new Set() };
  for (const [id, m] of Object.entries(index)) {
    const man = await readJsonBlob<Manifest>(root, m).catch(() => null);
    out.blobs.add(m);
    if (!man) continue;
    out.blobs.add(man.config.digest);
    for (const l of man.layers) out.blobs.add(l.digest);
    const cfg = await readJsonBlob<ImageConfig>(root, man.config.digest).catch(() => null);
    const diffIds = cfg?.rootfs.diff_ids ?? [];
    for (const d of diffIds) out.layers.add(d);
    out.images.set(id, { diffIds, tags: tagsOf(repos, m) });
  }
  return out;
}

/** The diff_ids of every layer dir in the store. */
export async function storedLayers(root: string): Promise<string[]> {
  const names = await fs.readdir(storePaths(root).layers).catch(() => [] as string[]);
  return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
}

async function layerBlobDigest(root: string, diffId: string): Promise<string | null> {
  const rec = await fs.readFile(storePaths(root).layerJson(diffId), "utf8").catch(() => null);
  if (!rec) return null;
  try {
    const d = JSON.parse(rec).digest;
    return typeof d === "string" && isDigest(d) ? d : null;
  } catch {
    return null;
  }
}

/** Disk bytes of one stored layer: its unpacked dir and its blob. */
export async function layerDisk(root: string, diffId: string): Promise<number> {
  const p = storePaths(root);
  const blob = await layerBlobDigest(root, diffId);
  return await diskUsage(p.layer(diffId)) + (blob ? await diskUsage(p.blob(blob)) : 0);
}

/** `system df` for the image side. */
export interface StoreUsage {
  images: { total: number; active: number; size: number; reclaimable: number };
  buildCache: { layers: number; size: number };
}

/**
 * Measures the store. `inUse` are image IDs that containers use; their layers are not
 * reclaimable.
 */
export async function storeUsage(root: string, inUse: Set<string>): Promise<StoreUsage> {
  const refs = await references(root);
  const sizes = new Map<string, number>();
  for (const d of await storedLayers(root)) sizes.set(d, await layerDisk(root, d));
  const active = new Set<string>();
  for (const [id, img] of refs.images) if (inUse.has(id)) img.diffIds.forEach((d) => active.add(d));
  let size = 0, reclaimable = 0, cache = 0, cacheLayers = 0;
  for (const [d, s] of sizes) {
    if (refs.layers.has(d)) {
      size += s;
      if (!active.has(d)) reclaimable += s;
    } else {
      cache += s;
      cacheLayers++;
    }
  }
  return {
    images: {
      total: refs.images.size,
      active: [...refs.images.keys()].filter((id) => inUse.has(id)).length,
      size,
      reclaimable,
    },
    buildCache: { layers: cacheLayers, size: cache },
  };
}

/** What pruning removed. */
export interface PruneResult {
  untagged: string[];
  deletedImages: string[];
  deletedLayers: string[];
  reclaimed: number;
}

/**
 * Removes images no container uses: untagged ones, or with `all` every one. Their layers go
 * with them unless another image uses them.
 */
export async function pruneImages(
  root: string,
  inUse: Set<string>,
  all: boolean,
): Promise<PruneResult> {
  const out: PruneResult = { untagged: [], deletedImages: [], deletedLayers: [], reclaimed: 0 };
  const refs = await references(root);
  const before = new Map<string, number>();
  for (const d of await storedLayers(root)) before.set(d, await layerDisk(root, d));
  for (const [id, img] of refs.images) {
    if (inUse.has(id) || (!all && img.tags.length > 0)) continue;
    const r = await removeImage(root, id, { force: true, inUse: () => false }).catch(() => null);
    if (!r) continue;
    out.untagged.push(...r.untagged);
    for (const d of r.deleted) {
      if (d === id) out.deletedImages.push(d);
      else {
        out.deletedLayers.push(d);
        out.reclaimed += before.get(d) ?? 0;
      }
    }
  }
  return out;
}

/**
 * Removes the build cache: layers no image uses (except `keep`, e.g. layers under a
 * container or a running build), blobs no manifest names, cache entries, and staging
 * left in tmp/ by a crashed hako (older than an hour).
 */
export async function pruneBuildCache(
  root: string,
  keep: Set<string> = new Set(),
): Promise<PruneResult> {
  const out: PruneResult = { untagged: [], deletedImages: [], deletedLayers: [], reclaimed: 0 };
  const p = storePaths(root);
  await withStoreLock(root, async () => {
    const refs = await references(root);
    for (const d of await storedLayers(root)) {
      if (refs.layers.has(d) || keep.has(d)) continue;
      out.reclaimed += await layerDisk(root, d);
      const blob = await layerBlobDigest(root, d);
      const trash = `${p.tmp}/rm-${crypto.randomUUID()}`;
      await fs.mkdir(p.tmp, { recursive: true });
      if (await fs.rename(p.layer(d), trash).then(() => true, () => false)) {
        await fs.rm(trash, { recursive: true, force: true });
        out.deletedLayers.push(d);
      }
      if (blob && !refs.blobs.has(blob)) await fs.rm(p.blob(blob), { force: true });
    }
    // Blobs nothing refers to (a failed load's configs, layers of removed cache entries).
    const keepBlobs = new Set(refs.blobs);
    for (const d of keep) {
      const b = await layerBlobDigest(root, d);
      if (b) keepBlobs.add(b);
    }
    for (const n of await fs.readdir(p.blobs).catch(() => [] as string[])) {
      const d = `sha256:${n}`;
      if (!isDigest(d) || keepBlobs.has(d)) continue;
      out.reclaimed += await diskUsage(`${p.blobs}/${n}`);
      await fs.rm(`${p.blobs}/${n}`, { force: true });
    }
    const cache = `${root}/buildcache`;
    out.reclaimed += await diskUsage(cache);
    await fs.rm(cache, { recursive: true, force: true });
    const hourAgo = Date.now() - 3600_000;
    for (const n of await fs.readdir(p.tmp).catch(() => [] as string[])) {
      const st = await fs.lstat(`${p.tmp}/${n}`).catch(() => null);
      if (st && st.mtimeMs < hourAgo) {
        out.reclaimed += await diskUsage(`${p.tmp}/${n}`);
        await fs.rm(`${p.tmp}/${n}`, { recursive: true, force: true });
      }
    }
  });
  return out;
}

/**
 * Undoes layers a failed load stored: each of `diffIds` that no indexed image uses is
 * removed with its blob, so a rejected archive leaves the store as it was.
 */
export async function discardLayers(root: string, diffIds: string[]): Promise<void> {
  if (diffIds.length === 0) return;
  const p = storePaths(root);
  await withStoreLock(root, async () => {
    const refs = await references(root);
    for (const d of diffIds) {
      if (refs.layers.has(d)) continue;
      const blob = await layerBlobDigest(root, d);
      const trash = `${p.tmp}/rm-${crypto.randomUUID()}`;
      await fs.mkdir(p.tmp, { recursive: true });
      if (await fs.rename(p.layer(d), trash).then(() => true, () => false)) {
        await fs.rm(trash, { recursive: true, force: true });
      }
      if (blob && !refs.blobs.has(blob)) await fs.rm(p.blob(blob), { force: true });
    }
  });
}
