/**
 * `hako image tree`: the images as a tree of their layer chains, so it shows which images
 * share which layers, and how many bytes sharing saves (each layer is stored once however
 * many images use it).
 */

import { readJsonOr } from "../../ffi/fs.ts";
import type { ImageConfig, Manifest } from "./oci.ts";
import { tagsOf } from "./resolve.ts";
import {
  type LayerRecord,
  readImageIndex,
  readJsonBlob,
  readRepositories,
  storePaths,
} from "./store.ts";

/** A node: one layer reached through the chain of its ancestors. */
export interface TreeNode {
  diffId: string;
  /** Unpacked bytes of this layer. */
  size: number;
  /** How many images have this node's chain as (part of) their own. */
  images: number;
  /** Images whose top layer this is: ID and tags. */
  ends: { id: string; tags: string[] }[];
  children: TreeNode[];
}

/** The whole tree and what sharing saves. */
export interface ImageTree {
  roots: TreeNode[];
  images: number;
  /** Distinct layers in use. */
  layers: number;
  /** Bytes the layers take once each (what is stored). */
  stored: number;
  /** Bytes they would take if every image had its own copy. */
  unshared: number;
}

/**
 * Builds the layer tree of every image in the store.
 *
 * @example
 * ```ts
 * const t = await imageTree(root);
 * console.log(`sharing saves ${t.unshared - t.stored} bytes`);
 * ```
 */
export async function imageTree(root: string): Promise<ImageTree> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  const paths = storePaths(root);
  const sizes = new Map<string, number>();
  const sizeOf = async (d: string) => {
    if (!sizes.has(d)) {
      sizes.set(d, (await readJsonOr<LayerRecord | null>(paths.layerJson(d), null))?.size ?? 0);
    }
    return sizes.get(d)!;
  };
  const roots: TreeNode[] = [];
  let unshared = 0;
  const ids = Object.keys(index).sort();
  for (const id of ids) {
    const manifest = await readJsonBlob<Manifest>(root, index[id]).catch(() => null);
    if (!manifest) continue;
    const config = await readJsonBlob<ImageConfig>(root, manifest.config.digest).catch(() => null);
    if (!config) continue;
    let level = roots;
    let node: TreeNode | null = null;
    for (const d of config.rootfs.diff_ids) {
      const size = await sizeOf(d);
      unshared += size;
      node = level.find((n) => n.diffId === d) ?? null;
      if (!node) {
        node = { diffId: d, size, images: 0, ends: [], children: [] };
        level.push(node);
      }
      node.images++;
      level = node.children;
    }
    node?.ends.push({ id, tags: tagsOf(repos, index[id]) });
  }
  let stored = 0;
  for (const s of sizes.values()) stored += s;
  return { roots, images: ids.length, layers: sizes.size, stored, unshared };
}
