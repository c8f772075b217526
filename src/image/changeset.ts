/**
 * A container's changes: its overlayfs upper dir read against the image layers below it.
 *
 * - `containerChanges` lists them as `docker diff` does: `A` added, `C` changed, `D` deleted,
 *   sorted by path; a directory that only holds changes is `C` when it existed before.
 * - `packChanges` streams them as a layer tar (whiteouts for deletions; the rules of
 *   pack.ts), which commit and build store as a new layer.
 *
 * The runtime creates mount points the image lacks (`/etc/hosts`, `/proc`, …) inside the
 * container's root, and copies up the image's own files it bind-mounts over, so they land
 * in the upper dir; Docker keeps them in a separate init layer. Here they are recognised (a
 * mount destination that is absent from the image and still an empty file or directory,
 * or a file over an image file) and left out of both, with parents that only exist for them.
 */

import * as fs from "node:fs/promises";
import type { Stats } from "node:fs";
import { LayeredTree } from "./layered.ts";
import {
  byteOrder,
  isOpaque,
  isWhiteout,
  packDirectory,
  type PackOptions,
  sortedNames,
} from "./pack.ts";

/** One line of `docker diff`. */
export interface Change {
  kind: "A" | "C" | "D";
  /** Absolute path inside the container. */
  path: string;
}

/** Where a container's changes are and what was below them. */
export interface ChangeSource {
  /** The overlayfs upper dir. */
  upper: string;
  /** The image layer dirs, topmost first. */
  lowers: string[];
  /** Mount destinations of the container (paths the runtime may have created). */
  mountPoints?: string[];
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  return await fs.lstat(p).catch(() => null);
}

/**
 * The relative paths (no leading "/") to leave out: runtime-made mount points and the
 * directories that hold nothing else.
 */
export async function runtimeMade(src: ChangeSource): Promise<Set<string>> {
  const skip = new Set<string>();
  const below = new LayeredTree(src.lowers);
  for (const m of src.mountPoints ?? []) {
    const rel = m.split("/").filter((c) => c && c !== ".").join("/");
    if (!rel) continue;
    const st = await lstatOrNull(`${src.upper}/${rel}`);
    if (!st) continue;
    const lower = await below.lstat(rel);
    if (lower === null) {
      const empty = st.isDirectory()
        ? (await fs.readdir(`${src.upper}/${rel}`)).length === 0
        : st.isFile() && st.size === 0;
      if (empty) skip.add(rel);
    } else if (st.isFile() && lower.st.isFile()) {
      // Copied up when the runtime prepared the bind mount over it (/etc/hostname of an
      // image that has one): the container only ever saw the mounted file there.
      skip.add(rel);
    }
  }
  // Parents (deepest first) that hold only skipped entries. A parent that exists below is
  // in the upper dir only because the runtime created something in it.
  const parents = new Set<string>();
  for (const rel of skip) {
    const c = rel.split("/");
    for (let i = c.length - 1; i > 0; i--) parents.add(c.slice(0, i).join("/"));
  }
  const deepestFirst = [...parents].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const p of deepestFirst) {
    const names = await fs.readdir(`${src.upper}/${p}`).catch(() => null);
    if (names && names.every((n) => skip.has(`${p}/${n}`)) && !isOpaque(`${src.upper}/${p}`)) {
      skip.add(p);
    }
  }
  return skip;
}

function sameDir(a: Stats, b: Stats): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid &&
    Math.floor(a.mtimeMs / 1000) === Math.floor(b.mtimeMs / 1000);
}

/**
 * Lists a container's changes like `docker diff`.
 *
 * @example
 * ```ts
 * await containerChanges({ upper: ".../upper", lowers: [".../layers/<hex>/diff"] });
 * // [{ kind: "C", path: "/etc" }, { kind: "A", path: "/etc/new" }]
 * ```
 */
export async function containerChanges(src: ChangeSource): Promise<Change[]> {
  const skip = await runtimeMade(src);
  const tree = new LayeredTree(src.lowers);
  const out = new Map<string, Change["kind"]>();
  const touchParent = (rel: string) => {
    const i = rel.lastIndexOf("/");
    if (i > 0 && !out.has(rel.slice(0, i))) out.set(rel.slice(0, i), "C");
  };
  const walk = async (rel: string): Promise<void> => {
    const dir = rel ? `${src.upper}/${rel}` : src.upper;
    for (const name of await sortedNames(dir)) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.has(r)) continue;
      const st = await fs.lstat(`${src.upper}/${r}`);
      const below = await tree.lstat(r);
      if (isWhiteout(st)) {
        out.set(r, "D");
        touchParent(r);
        continue;
      }
      if (below === null) {
        out.set(r, "A");
        touchParent(r);
      } else if (st.isDirectory() && below.st.isDirectory()) {
        if (isOpaque(`${src.upper}/${r}`)) {
          out.set(r, "C");
          // Everything the opaque directory hides from below is gone.
          for (const n of await tree.readdir(r, below)) {
            if (!(await lstatOrNull(`${src.upper}/${r}/${n}`))) out.set(`${r}/${n}`, "D");
          }
        } else if (!sameDir(st, below.st)) out.set(r, "C");
      } else out.set(r, "C");
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk("");
  return [...out].map(([p, kind]) => ({ kind, path: "/" + p }))
    .sort((a, b) => byteOrder(a.path, b.path));
}

/**
 * Streams the container's changes as an uncompressed layer tar.
 *
 * @example
 * ```ts
 * await storeLayerFromTar(root, await packChanges(src), {}, { compress: "gzip" });
 * ```
 */
export async function packChanges(
  src: ChangeSource,
  opts: Omit<PackOptions, "overlay" | "skip"> = {},
): Promise<AsyncGenerator<Uint8Array>> {
  const skip = await runtimeMade(src);
  return packDirectory(src.upper, { ...opts, overlay: true, skip: (r) => skip.has(r) });
}
