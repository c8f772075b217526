/**
 * Packing file trees into layer tars, deterministically. The rules, the same for import of
 * a directory, commit, build and export:
 *
 * - entries in bytewise name order, a directory before what it holds;
 * - ownership as numeric uid/gid (no user or group names), mode with setuid/setgid/sticky;
 * - mtime in whole seconds, clamped to `epoch` when one is given (SOURCE_DATE_EPOCH); no
 *   atime or ctime;
 * - xattrs (PAX `SCHILY.xattr.*`, sorted by name) except overlayfs's own `trusted.overlay.*`;
 * - a file with several hard links inside the tree is written once, at its first name in
 *   that order, and as links after;
 * - sockets are left out (as GNU tar does).
 *
 * From an overlayfs upper dir (`overlay: true`) a whiteout (character device 0:0) becomes an
 * empty `.wh.<name>` file and an opaque directory (`trusted.overlay.opaque=y`) gets a
 * `.wh..wh..opq` entry, as the OCI image-spec changeset format says; marker entries have
 * mode 0, owner 0:0 and mtime 0, so they never vary.
 */

import * as fs from "node:fs/promises";
import type { Stats } from "node:fs";
import { lgetxattr, llistxattr } from "../../ffi/mod.ts";
import { HakoError } from "../errors.ts";
import { readFileChunks } from "./layer.ts";
import type { TarWriteEntry } from "./tar_writer.ts";
import { writeTar } from "./tar_writer.ts";
import type { EntryType } from "./tar_reader.ts";

/** Options for packing a tree. */
export interface PackOptions {
  /** Latest mtime written (seconds since the epoch); later ones are clamped to it. */
  epoch?: number;
  /** The tree is an overlayfs upper dir: convert whiteouts and opaque dirs. */
  overlay?: boolean;
  /** Leaves out a path (relative, no leading "/") and everything under it. */
  skip?: (rel: string) => boolean;
}

/** A path found by a walk: where it is on the host, where it goes in the tar, its lstat. */
export interface WalkItem {
  /** Name in the tar (relative, no leading "/"). */
  rel: string;
  /** Where it is on the host. */
  abs: string;
  st: Stats;
  /** Owner to write instead of the file's (COPY --chown). */
  owner?: { uid: number; gid: number };
  /** Permission bits to write instead of the file's (COPY --chmod). */
  perm?: number;
}

const OVERLAY_XATTR = "trusted.overlay.";

/** Bytewise order (what `LC_ALL=C sort` gives), not the locale's. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True for an overlayfs whiteout: a character device with device number 0:0. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** The extended attributes of a path (not following a symlink), by name, sorted. */
export function readXattrs(abs: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name of llistxattr(abs).sort(byteOrder)) {
    const v = lgetxattr(abs, name);
    if (v !== null) out[name] = v;
  }
  return out;
}

/** True when an overlay upper directory is opaque (hides everything below it). */
export function isOpaque(abs: string): boolean {
  const v = lgetxattr(abs, "trusted.overlay.opaque");
  return v !== null && v.length === 1 && v[0] === 0x79; // "y"
}

function devParts(rdev: number): [number, number] {
  const major = Math.floor(rdev / 256) & 0xfff, minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return [major, minor];
}

/** Hard links seen so far (`dev:ino` → first name) and the clamp for mtimes. */
export class PackState {
  links = new Map<string, string>();
  constructor(readonly opts: PackOptions = {}) {}

  /** Seconds, clamped to the epoch. */
  clamp(ms: number): number {
    const s = Math.floor(ms / 1000);
    return this.opts.epoch !== undefined && s > this.opts.epoch ? this.opts.epoch : s;
  }
}

/** The tar entries for one walked path (none for a socket; two for an opaque dir). */
export async function tarEntriesFor(item: WalkItem, state: PackState): Promise<TarWriteEntry[]> {
  const { rel, abs, st } = item;
  const opts = state.opts;
  const slash = rel.lastIndexOf("/");
  const dir = slash < 0 ? "" : rel.slice(0, slash + 1);
  if (opts.overlay && isWhiteout(st)) {
    return [{ header: { name: `${dir}.wh.${rel.slice(slash + 1)}`, type: "file", mode: 0 } }];
  }
  const xattrs: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(readXattrs(abs))) {
    if (!k.startsWith(OVERLAY_XATTR)) xattrs[k] = v;
    else if (opts.overlay && (k.endsWith(".redirect") || k.endsWith(".metacopy"))) {
      throw new HakoError(
        `pack ${rel}: overlayfs redirect_dir or metacopy is in use; such an upper dir is not a plain changeset`,
      );
    }
  }
  const base = {
    name: rel,
    mode: item.perm !== undefined && !st.isSymbolicLink()
      ? (st.mode & 0o7000) | (item.perm & 0o777)
      : st.mode & 0o7777,
    uid: item.owner?.uid ?? st.uid,
    gid: item.owner?.gid ?? st.gid,
    mtime: state.clamp(st.mtimeMs),
    xattrs,
  };
  if (st.isDirectory()) {
    const out: TarWriteEntry[] = [{ header: { ...base, type: "directory" } }];
    if (opts.overlay && isOpaque(abs)) {
      out.push({ header: { name: `${rel}/.wh..wh..opq`, type: "file", mode: 0 } });
    }
    return out;
  }
  if (!st.isSymbolicLink() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = state.links.get(key);
    if (first !== undefined) return [{ header: { ...base, type: "link", linkname: first } }];
    state.links.set(key, rel);
  }
  let type: EntryType;
  if (st.isFile()) {
    return [{ header: { ...base, type: "file", size: st.size }, data: readFileChunks(abs) }];
  } else if (st.isSymbolicLink()) {
    return [{ header: { ...base, type: "symlink", linkname: await fs.readlink(abs) } }];
  } else if (st.isFIFO()) type = "fifo";
  else if (st.isCharacterDevice()) type = "char";
  else if (st.isBlockDevice()) type = "block";
  else return []; // sockets are not archived (as GNU tar)
  const [devmajor, devminor] = devParts(st.rdev);
  return [{ header: { ...base, type, devmajor, devminor } }];
}

/** Turns walked paths into tar entries following the rules in the module comment. */
export async function* tarEntries(
  items: AsyncIterable<WalkItem>,
  opts: PackOptions = {},
): AsyncGenerator<TarWriteEntry> {
  const state = new PackState(opts);
  for await (const item of items) yield* await tarEntriesFor(item, state);
}

/** Names in a directory, bytewise sorted. */
export async function sortedNames(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort(byteOrder);
}

/** Walks a directory tree depth first in bytewise name order (the root itself is not listed). */
export async function* walkTree(
  root: string,
  skip?: (rel: string) => boolean,
  rel = "",
): AsyncGenerator<WalkItem> {
  const dir = rel ? `${root}/${rel}` : root;
  for (const name of await sortedNames(dir)) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip?.(r)) continue;
    const abs = `${root}/${r}`;
    const st = await fs.lstat(abs);
    yield { rel: r, abs, st };
    if (st.isDirectory()) yield* walkTree(root, skip, r);
  }
}

/**
 * Streams a directory as an uncompressed tar (see the module comment for the rules).
 *
 * @example
 * ```ts
 * for await (const chunk of packDirectory("/tmp/rootfs")) {}
 * ```
 */
export function packDirectory(dir: string, opts: PackOptions = {}): AsyncGenerator<Uint8Array> {
  const root = dir.replace(/\/+$/, "") || "/";
  return writeTar(tarEntries(walkTree(root, opts.skip), opts));
}
