/**
 * A streaming tar reader (ustar, GNU and PAX), written here rather than taken from
 * tar-stream because layer xattrs (`SCHILY.xattr.*`, e.g. security.capability) are binary
 * and must reach lsetxattr byte for byte, and because the layer code needs every byte to
 * pass through its hashes in one pass.
 */

import { InvalidDataError } from "../errors.ts";
import { ByteReader } from "./bytes.ts";

/** Entry types a layer may contain. */
export type EntryType =
  | "file"
  | "link"
  | "symlink"
  | "directory"
  | "char"
  | "block"
  | "fifo";

/** One tar entry header, after PAX and GNU long-name records have been applied. */
export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (may be fractional from PAX). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  uname: string;
  gname: string;
  /** Extended attributes from PAX `SCHILY.xattr.<name>`, values as raw bytes. */
  xattrs: Record<string, Uint8Array>;
}

/** An entry: its header and, for regular files, a body to read before the next entry. */
export interface TarEntry {
  header: TarHeader;
  /** Yields the file's bytes; must be consumed (or left alone) before asking for the next entry. */
  body: () => AsyncGenerator<Uint8Array>;
}

const dec = new TextDecoder();

function str(b: Uint8Array, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return dec.decode(nul >= 0 ? f.subarray(0, nul) : f);
}

function num(b: Uint8Array, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as the marker.
    let v = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i];
    return v;
  }
  const s = str(b, off, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function checksumOk(b: Uint8Array): boolean {
  const want = num(b, 148, 8);
  let unsigned = 0, signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 32 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

function parsePax(b: Uint8Array, into: Map<string, Uint8Array>): void {
  let i = 0;
  while (i < b.length) {
    let sp = i;
    while (sp < b.length && b[sp] !== 0x20) sp++;
    const len = parseInt(dec.decode(b.subarray(i, sp)), 10);
    if (!(len > 0) || i + len > b.length) throw new InvalidDataError("tar: malformed PAX record");
    const rec = b.subarray(sp + 1, i + len - 1); // drop the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new InvalidDataError("tar: malformed PAX record");
    into.set(dec.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    i += len;
  }
}

const TYPES: Record<string, EntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "directory",
  "6": "fifo",
};

const pad = (n: number) => (512 - (n % 512)) % 512;

/**
 * Iterates the entries of an uncompressed tar stream. The first header failing its
 * checksum means "not a tar archive" (InvalidDataError); later ones mean a corrupt archive.
 * After the end-of-archive marker the rest of the stream is read and discarded.
 */
export async function* readTar(src: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src, () => new InvalidDataError("tar: unexpected end of archive"));
  let first = true;
  let pax = new Map<string, Uint8Array>();
  const global = new Map<string, Uint8Array>();
  let longName: string | undefined, longLink: string | undefined;
  let finished = false;
  try {
    for (;;) {
      const h = await r.read(512);
      if (h.length < 512) {
        if (first) throw new InvalidDataError("not a tar archive (shorter than one header)");
        throw new InvalidDataError("tar: unexpected end of archive");
      }
      if (h.every((c) => c === 0)) {
        if (first) throw new InvalidDataError("not a tar archive (starts with an empty block)");
        await r.drain();
        finished = true;
        return;
      }
      if (!checksumOk(h)) {
        throw new InvalidDataError(
          first ? "not a tar archive" : "tar: corrupt header (bad checksum)",
        );
      }
      first = false;
      const flag = String.fromCharCode(h[156]);
      let size = num(h, 124, 12);
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (size > 1 << 24) throw new InvalidDataError("tar: extended header too large");
        const data = size ? await r.read(size) : new Uint8Array(0);
        if (data.length < size) throw new InvalidDataError("tar: unexpected end of archive");
        await r.skip(pad(size));
        if (flag === "x") parsePax(data, pax);
        else if (flag === "g") parsePax(data, global);
        else if (flag === "L") longName = str(data, 0, data.length);
        else longLink = str(data, 0, data.length);
        continue;
      }
      const type = TYPES[flag];
      if (!type) {
        throw new InvalidDataError(
          `tar: unsupported entry type ${JSON.stringify(flag)} for ${str(h, 0, 100)}`,
        );
      }
      const ext = new Map([...global, ...pax]);
      const magic = str(h, 257, 6);
      const prefix = magic === "ustar" ? str(h, 345, 155) : ""; // GNU uses it for atime
      let name = str(h, 0, 100);
      if (prefix) name = prefix + "/" + name;
      const get = (k: string) => {
        const v = ext.get(k);
        return v === undefined ? undefined : dec.decode(v);
      };
      name = get("path") ?? longName ?? name;
      const linkname = get("linkpath") ?? longLink ?? str(h, 157, 100);
      if (get("size") !== undefined) size = parseInt(get("size")!, 10);
      for (const k of ext.keys()) {
        if (k.startsWith("GNU.sparse")) {
          throw new InvalidDataError(`tar: sparse file ${name} is not supported`);
        }
      }
      const xattrs: Record<string, Uint8Array> = {};
      for (const [k, v] of ext) {
        if (k.startsWith("SCHILY.xattr.")) xattrs[k.slice(13)] = v;
      }
      const header: TarHeader = {
        name,
        type,
        mode: num(h, 100, 8) & 0o7777,
        uid: get("uid") !== undefined ? parseInt(get("uid")!, 10) : num(h, 108, 8),
        gid: get("gid") !== undefined ? parseInt(get("gid")!, 10) : num(h, 116, 8),
        size: type === "file" ? size : 0,
        mtime: get("mtime") !== undefined ? parseFloat(get("mtime")!) : num(h, 136, 12),
        linkname,
        devmajor: num(h, 329, 8),
        devminor: num(h, 337, 8),
        uname: get("uname") ?? str(h, 265, 32),
        gname: get("gname") ?? str(h, 297, 32),
        xattrs,
      };
      pax = new Map();
      longName = longLink = undefined;
      let left = size;
      let started = false;
      const body = async function* () {
        if (started) throw new Error("tar: entry body read twice");
        started = true;
        for await (const c of r.chunks(header.size)) {
          left -= c.length;
          yield c;
        }
      };
      yield { header, body };
      // Whatever the consumer left unread (and any size on a non-file entry) is skipped.
      await r.skip(left);
      await r.skip(pad(size));
    }
  } finally {
    // On an error or an early stop by the consumer, close the source (and its file).
    if (!finished) await r.cancel().catch(() => {});
  }
}
