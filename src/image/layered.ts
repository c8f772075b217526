/**
 * Reading a stack of layer dirs (overlayfs lower-dir form) as the one tree overlayfs would
 * show, without mounting anything: the topmost layer holding a name wins, a whiteout
 * (character device 0:0) hides the name below it, an opaque directory hides everything
 * below it, and a non-directory hides a directory of the same name below it.
 *
 * Used by export (the merged tree), diff (what existed before) and build (COPY --from a
 * stage, destination paths through symlinks).
 */

import * as fs from "node:fs/promises";
import type { Stats } from "node:fs";
import { InvalidDataError } from "../errors.ts";
import { byteOrder, isOpaque, isWhiteout, type WalkItem } from "./pack.ts";

/** A path found in the merged tree. */
export interface Found {
  /** Host path of the winning entry. */
  abs: string;
  st: Stats;
  /** For a directory: the layer dirs (topmost first) whose contents merge into it. */
  layers: string[];
}

const MAX_LINKS = 40;

async function lstatOrNull(p: string): Promise<Stats | null> {
  return await fs.lstat(p).catch(() => null);
}

/** Splits a path into clean components; `..` stops at the root. */
export function components(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else out.push(c);
  }
  return out;
}

/** A read-only merged view of layer dirs, topmost first. */
export class LayeredTree {
  constructor(readonly layers: string[]) {}

  /** Finds `name` among the layers a directory merges from. */
  async #child(dirLayers: string[], rel: string): Promise<Found | null> {
    for (let i = 0; i < dirLayers.length; i++) {
      const st = await lstatOrNull(`${dirLayers[i]}/${rel}`);
      if (!st) continue;
      if (isWhiteout(st)) return null;
      const abs = `${dirLayers[i]}/${rel}`;
      if (!st.isDirectory()) return { abs, st, layers: [] };
      const layers = [dirLayers[i]];
      if (!isOpaque(abs)) {
        for (const l of dirLayers.slice(i + 1)) {
          const s = await lstatOrNull(`${l}/${rel}`);
          if (!s) continue;
          if (!s.isDirectory()) break; // a whiteout or a file hides the rest
          layers.push(l);
          if (isOpaque(`${l}/${rel}`)) break;
        }
      }
      return { abs, st, layers };
    }
    return null;
  }

  /** lstat of a relative path (no symlinks followed); null when it does not exist. */
  async lstat(rel: string): Promise<Found | null> {
    const comps = components(rel);
    if (comps.length === 0) {
      const st = await lstatOrNull(this.layers[0] ?? "/nonexistent");
      return st ? { abs: this.layers[0], st, layers: this.layers } : null;
    }
    let layers = this.layers;
    let found: Found | null = null;
    for (let i = 0; i < comps.length; i++) {
      found = await this.#child(layers, comps.slice(0, i + 1).join("/"));
      if (!found) return null;
      if (i < comps.length - 1 && !found.st.isDirectory()) return null;
      layers = found.layers;
    }
    return found;
  }

  /** Every name any merged layer of a directory has (whiteouts included), sorted. */
  async #names(rel: string, dir: Found): Promise<string[]> {
    const names = new Set<string>();
    for (const l of dir.layers) {
      for (const n of await fs.readdir(rel ? `${l}/${rel}` : l).catch(() => [] as string[])) {
        names.add(n);
      }
    }
    return [...names].sort(byteOrder);
  }

  /** The names in a directory of the merged tree, bytewise sorted. */
  async readdir(rel: string, dir?: Found): Promise<string[]> {
    const d = dir ?? await this.lstat(rel);
    if (!d || !d.st.isDirectory()) return [];
    const r = components(rel).join("/");
    const out: string[] = [];
    for (const n of await this.#names(r, d)) {
      if (await this.#child(d.layers, r ? `${r}/${n}` : n)) out.push(n);
    }
    return out;
  }

  /**
   * Resolves `path` inside the tree's root, following symlinks with "/" meaning the root
   * and never climbing above it (as containerd's fs.RootPath). Components that do not
   * exist are kept. With `followLast` false a final symlink is not followed.
   */
  async resolve(path: string, followLast = true): Promise<string> {
    const out: string[] = [];
    const todo = components("/" + path);
    let links = 0;
    while (todo.length) {
      const c = todo.shift()!;
      if (c === "..") {
        out.pop();
        continue;
      }
      const rel = [...out, c].join("/");
      const f = await this.lstat(rel);
      if (f?.st.isSymbolicLink() && (followLast || todo.length > 0)) {
        if (++links > MAX_LINKS) {
          throw new InvalidDataError(`resolve ${path}: too many levels of symbolic links`);
        }
        const target = await fs.readlink(f.abs);
        if (target.startsWith("/")) out.length = 0;
        todo.unshift(...target.split("/").filter((x) => x && x !== "."));
        continue;
      }
      out.push(c);
    }
    return out.join("/");
  }

  /**
   * Walks the merged tree under `rel` depth first in bytewise order; `rel` itself is not
   * listed. Each item's `rel` is relative to the walk's start.
   */
  async *walk(rel = "", prefix = ""): AsyncGenerator<WalkItem> {
    const start = await this.lstat(rel);
    if (!start || !start.st.isDirectory()) return;
    yield* this.#walkDir(components(rel).join("/"), start, prefix);
  }

  async *#walkDir(rel: string, dir: Found, prefix: string): AsyncGenerator<WalkItem> {
    for (const name of await this.#names(rel, dir)) {
      const r = rel ? `${rel}/${name}` : name;
      const f = await this.#child(dir.layers, r);
      if (!f) continue;
      const out = prefix ? `${prefix}/${name}` : name;
      yield { rel: out, abs: f.abs, st: f.st };
      if (f.st.isDirectory()) yield* this.#walkDir(r, f, out);
    }
  }
}
