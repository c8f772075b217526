/**
 * Applies one layer tar to an empty directory in overlayfs lower-dir form, following the
 * OCI image-spec changeset rules: files, dirs, symlinks, hard links, devices and FIFOs with
 * ownership, modes (setuid/setgid/sticky), mtimes and xattrs; `.wh.<name>` whiteouts
 * become overlay whiteouts (char device 0:0) and `.wh..wh..opq` the xattr
 * `trusted.overlay.opaque=y`.
 *
 * Path safety: every entry path and hard-link target is cleaned lexically and must stay
 * inside the root (a leading "/" is taken relative to it); no parent of an entry may be a
 * symlink, so nothing is ever written through a link, whatever it points at.
 */

import * as fs from "node:fs/promises";
import process from "node:process";
import { InvalidDataError } from "../errors.ts";
import type { TarEntry, TarHeader } from "./tar_reader.ts";
import {
  AT_FDCWD,
  close,
  lsetxattr,
  makedev,
  mkdirat,
  mknod,
  O,
  openat,
  S_IF,
  SysError,
} from "../../ffi/mod.ts";
import {
  chmodAt,
  fchmod,
  fchown,
  fsetxattr,
  futimes,
  lchownAt,
  linkAt,
  lutimesAt,
  symlinkAt,
  unlinkAt,
  writeAll,
} from "../../ffi/at.ts";
import { lstatSync } from "../../ffi/kfs.ts";
const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** What unpacking reports. */
export interface UnpackResult {
  /** Bytes of regular-file content written. */
  size: number;
  /** Number of entries applied. */
  entries: number;
}

/**
 * Splits an entry name into clean path components inside the root; throws
 * InvalidDataError when `..` would climb out of it.
 *
 * @example
 * ```ts
 * cleanEntryPath("/usr/./bin/../lib"); // ["usr", "lib"]
 * ```
 */
export function cleanEntryPath(name: string): string[] {
  const out: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      if (out.length === 0) {
        throw new InvalidDataError(`layer: entry ${name} escapes the layer root`);
      }
      out.pop();
    } else out.push(p);
  }
  return out;
}

const S_IFMT = 0o170000, S_IFDIR = 0o040000, S_IFLNK = 0o120000;

class Unpacker {
  #dirs = new Set<string>([""]);
  #dirTimes = new Map<string, number>();
  #asRoot = process.getuid?.() === 0;
  size = 0;
  entries = 0;

  constructor(readonly root: string) {}

  #abs(comps: string[]): string {
    return comps.length ? `${this.root}/${comps.join("/")}` : this.root;
  }

  /** Checks (and with `create`, makes) every parent of `comps`, refusing symlinks. */
  #parents(name: string, comps: string[], create: boolean): void {
    for (let i = 1; i < comps.length; i++) {
      const rel = comps.slice(0, i).join("/");
      if (this.#dirs.has(rel)) continue;
      const p = `${this.root}/${rel}`;
      const st = lstatSync(p);
      if (st === null) {
        if (!create) throw new InvalidDataError(`layer: entry ${name}: ${rel} does not exist`);
        mkdirat(AT_FDCWD, p, 0o755);
      } else if ((st.mode & S_IFMT) === S_IFLNK) {
        throw new InvalidDataError(`layer: entry ${name} passes through symlink ${rel}`);
      } else if ((st.mode & S_IFMT) !== S_IFDIR) {
        throw new InvalidDataError(`layer: entry ${name}: ${rel} is not a directory`);
      }
      this.#dirs.add(rel);
    }
  }

  /** Removes whatever is at `p` unless it is a directory and `keepDir` is set. */
  async #clear(p: string, rel: string, keepDir: boolean): Promise<boolean> {
    const st = lstatSync(p);
    if (st === null) return false;
    if ((st.mode & S_IFMT) === S_IFDIR) {
      if (keepDir) return true;
      await fs.rm(p, { recursive: true, force: true });
      // Forget cached dirs at or below rel: the same path may come back as a symlink.
      for (const d of this.#dirs) if (d === rel || d.startsWith(rel + "/")) this.#dirs.delete(d);
    } else unlinkAt(p);
    return false;
  }

  /**
   * Creates a node with `create`; when the name is taken (a later entry replacing an earlier
   * one), removes what is there and tries once more. Saves a stat per entry.
   */
  async #create(p: string, rel: string, create: () => void): Promise<void> {
    try {
      create();
    } catch (e) {
      if (!(e instanceof SysError && e.code === "EEXIST")) throw e;
      await this.#clear(p, rel, false);
      create();
    }
  }

  /** Owner, mode and xattrs of a path (not a regular file: those are set through the fd). */
  #meta(p: string, h: TarHeader, symlink = false): void {
    if (this.#asRoot) lchownAt(p, h.uid, h.gid);
    // chmod after chown: chown(2) clears setuid/setgid.
    if (!symlink) chmodAt(p, h.mode);
    for (const [k, v] of Object.entries(h.xattrs)) {
      // A layer must not plant overlay's own metadata; overlay would act on it.
      if (k.startsWith("trusted.overlay.")) continue;
      try {
        lsetxattr(p, k, v);
      } catch (e) {
        throw new InvalidDataError(`layer: set xattr ${k} on ${h.name}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  }

  async #file(p: string, rel: string, e: TarEntry): Promise<void> {
    const h = e.header;
    let fd = -1;
    await this.#create(p, rel, () => {
      fd = openat(AT_FDCWD, p, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600);
    });
    try {
      for await (const c of e.body()) writeAll(fd, c, h.name);
      if (this.#asRoot) fchown(fd, h.uid, h.gid, h.name);
      fchmod(fd, h.mode, h.name);
      for (const [k, v] of Object.entries(h.xattrs)) {
        if (k.startsWith("trusted.overlay.")) continue;
        try {
          fsetxattr(fd, k, v, h.name);
        } catch (err) {
          throw new InvalidDataError(
            `layer: set xattr ${k} on ${h.name}: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
      futimes(fd, h.mtime, h.name);
    } finally {
      close(fd);
    }
    this.size += h.size;
  }

  async apply(e: TarEntry): Promise<void> {
    const h = e.header;
    const comps = cleanEntryPath(h.name);
    this.entries++;
    const base = comps[comps.length - 1] ?? "";
    if (base.startsWith(WH)) return await this.#whiteout(h.name, comps, base);
    this.#parents(h.name, comps, true);
    const rel = comps.join("/");
    const p = this.#abs(comps);
    if (h.type === "directory") {
      try {
        mkdirat(AT_FDCWD, p, 0o700);
      } catch (err) {
        if (!(err instanceof SysError && err.code === "EEXIST")) throw err;
        if (!(await this.#clear(p, rel, true))) mkdirat(AT_FDCWD, p, 0o700);
      }
      this.#dirs.add(rel);
      this.#meta(p, h);
      this.#dirTimes.set(p, h.mtime); // the last entry for a dir wins
      return;
    }
    if (comps.length === 0) {
      throw new InvalidDataError(`layer: entry ${h.name} replaces the layer root`);
    }
    if (h.type === "link") {
      const target = cleanEntryPath(h.linkname);
      if (target.length === 0) {
        throw new InvalidDataError(`layer: hard link ${h.name} points at the layer root`);
      }
      this.#parents(h.linkname, target, false);
      const tp = this.#abs(target);
      const st = lstatSync(tp);
      if (st === null || (st.mode & S_IFMT) === S_IFDIR) {
        throw new InvalidDataError(
          `layer: hard link ${h.name} -> ${h.linkname}: target is not a file in this layer`,
        );
      }
      if (tp === p) return;
      await this.#create(p, rel, () => linkAt(tp, p));
      return;
    }
    switch (h.type) {
      case "file":
        await this.#file(p, rel, e);
        return;
      case "symlink":
        await this.#create(p, rel, () => symlinkAt(h.linkname, p));
        this.#meta(p, h, true);
        break;
      case "char":
      case "block":
      case "fifo": {
        const kind = h.type === "char" ? S_IF.IFCHR : h.type === "block" ? S_IF.IFBLK : S_IF.IFIFO;
        const dev = h.type === "fifo" ? 0n : makedev(h.devmajor, h.devminor);
        await this.#create(p, rel, () => mknod(p, kind | (h.mode & 0o777), dev));
        this.#meta(p, h);
        break;
      }
    }
    lutimesAt(p, h.mtime);
  }

  async #whiteout(name: string, comps: string[], base: string): Promise<void> {
    this.#parents(name, comps, true);
    const dirComps = comps.slice(0, -1);
    if (base === OPAQUE) {
      lsetxattr(this.#abs(dirComps), "trusted.overlay.opaque", new TextEncoder().encode("y"));
      return;
    }
    if (base.startsWith(WH + WH)) return; // other AUFS metadata (.wh..wh.plnk, …): not content
    const hidden = base.slice(WH.length);
    if (hidden === "" || hidden === "." || hidden === "..") {
      throw new InvalidDataError(`layer: invalid whiteout ${name}`);
    }
    const relComps = [...dirComps, hidden];
    const p = this.#abs(relComps);
    await this.#clear(p, relComps.join("/"), false);
    mknod(p, S_IF.IFCHR, makedev(0, 0));
  }

  /** Sets directory mtimes last: creating their contents changed them. */
  finish(): void {
    for (const [p, t] of this.#dirTimes) lutimesAt(p, t);
  }
}

/**
 * Unpacks tar entries into `root` (an existing, empty directory). The caller owns cleanup:
 * on error `root` holds a partial tree and should be removed.
 */
export async function unpackEntries(
  entries: AsyncIterable<TarEntry>,
  root: string,
): Promise<UnpackResult> {
  const u = new Unpacker(root);
  for await (const e of entries) await u.apply(e);
  u.finish();
  return { size: u.size, entries: u.entries };
}
