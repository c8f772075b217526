/**
 * Packing a directory tree into a layer tar, deterministically: names sorted bytewise,
 * ownership, mode (incl. setuid/setgid/sticky) and mtime (whole seconds) preserved, hard
 * links within the tree written once as a file and then as links, no atime/ctime.
 */

import * as fs from "node:fs/promises";
import { readFileChunks } from "./layer.ts";
import type { TarWriteEntry } from "./tar_writer.ts";
import { writeTar } from "./tar_writer.ts";
import type { EntryType } from "./tar_reader.ts";

function devParts(rdev: number): [number, number] {
  const major = Math.floor(rdev / 256) & 0xfff, minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return [major, minor];
}

async function* walk(
  root: string,
  rel: string,
  links: Map<string, string>,
): AsyncGenerator<TarWriteEntry> {
  const dir = rel ? `${root}/${rel}` : root;
  const names = (await fs.readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const p = `${root}/${r}`;
    const st = await fs.lstat(p);
    const base = {
      name: r,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (st.isDirectory()) {
      yield { header: { ...base, type: "directory" } };
      yield* walk(root, r, links);
      continue;
    }
    if (!st.isSymbolicLink() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        yield { header: { ...base, type: "link", linkname: first } };
        continue;
      }
      links.set(key, r);
    }
    let type: EntryType;
    if (st.isFile()) {
      yield { header: { ...base, type: "file", size: st.size }, data: readFileChunks(p) };
      continue;
    } else if (st.isSymbolicLink()) {
      yield { header: { ...base, type: "symlink", linkname: await fs.readlink(p) } };
      continue;
    } else if (st.isFIFO()) type = "fifo";
    else if (st.isCharacterDevice()) type = "char";
    else if (st.isBlockDevice()) type = "block";
    else continue; // sockets are not archived (as GNU tar)
    const [devmajor, devminor] = devParts(st.rdev);
    yield { header: { ...base, type, devmajor, devminor } };
  }
}

/**
 * Streams a directory as an uncompressed tar.
 *
 * @example
 * ```ts
 * for await (const chunk of packDirectory("/tmp/rootfs")) {}
 * ```
 */
export function packDirectory(dir: string): AsyncGenerator<Uint8Array> {
  return writeTar(walk(dir.replace(/\/+$/, "") || "/", "", new Map()));
}
