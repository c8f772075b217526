/**
 * A tar writer (ustar headers, PAX records for long names, big numbers and binary xattrs).
 * Used to pack a directory into a layer and by tests to build exact archives.
 */

import type { EntryType, TarHeader } from "./tar_reader.ts";

/** What to write for one entry; omitted fields default to 0 / "" / 0644 / 0755 for dirs. */
export interface TarWriteEntry {
  header: Partial<TarHeader> & { name: string; type: EntryType };
  /** File contents (regular files only); its length must equal `header.size` when a stream. */
  data?: Uint8Array | string | AsyncIterable<Uint8Array>;
}

const enc = new TextEncoder();
const FLAG: Record<EntryType, string> = {
  file: "0",
  link: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

function putStr(b: Uint8Array, off: number, len: number, s: string): boolean {
  const e = enc.encode(s);
  if (e.length > len) return false;
  b.set(e, off);
  return true;
}

function putNum(b: Uint8Array, off: number, len: number, v: number): boolean {
  const s = Math.floor(v).toString(8);
  if (v < 0 || s.length > len - 1) return false;
  putStr(b, off, len, s.padStart(len - 1, "0") + "\0");
  return true;
}

function header(
  name: string,
  flag: string,
  h: Partial<TarHeader>,
  size: number,
  ext: Map<string, Uint8Array>,
) {
  const b = new Uint8Array(512);
  if (!putStr(b, 0, 100, name)) {
    ext.set("path", enc.encode(name));
    putStr(b, 0, 100, enc.encode(name).length > 100 ? name.slice(0, 99 - 16) : name);
  }
  putNum(b, 100, 8, h.mode ?? 0);
  if (!putNum(b, 108, 8, h.uid ?? 0)) ext.set("uid", enc.encode(String(h.uid)));
  if (!putNum(b, 116, 8, h.gid ?? 0)) ext.set("gid", enc.encode(String(h.gid)));
  if (!putNum(b, 124, 12, size)) ext.set("size", enc.encode(String(size)));
  const mtime = h.mtime ?? 0;
  if (!putNum(b, 136, 12, mtime) || mtime !== Math.floor(mtime)) {
    ext.set("mtime", enc.encode(String(mtime)));
  }
  b[156] = flag.charCodeAt(0);
  const link = h.linkname ?? "";
  if (!putStr(b, 157, 100, link)) ext.set("linkpath", enc.encode(link));
  putStr(b, 257, 8, "ustar\x0000");
  putStr(b, 265, 32, h.uname ?? "");
  putStr(b, 297, 32, h.gname ?? "");
  putNum(b, 329, 8, h.devmajor ?? 0);
  putNum(b, 337, 8, h.devminor ?? 0);
  b.fill(32, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  putStr(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

function paxBody(ext: Map<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of ext) {
    const rest = enc.encode(` ${k}=`).length + v.length + 1;
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(enc.encode(`${len} ${k}=`), v, enc.encode("\n"));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

const padding = (n: number) => new Uint8Array((512 - (n % 512)) % 512);

/**
 * Serialises entries into a tar stream, ending with the two zero blocks.
 *
 * @example
 * ```ts
 * for await (const chunk of writeTar([{ header: { name: "a", type: "file" }, data: "hi" }])) {}
 * ```
 */
export async function* writeTar(
  entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>,
): AsyncGenerator<Uint8Array> {
  for await (const e of entries) {
    const h = e.header;
    const data = typeof e.data === "string" ? enc.encode(e.data) : e.data;
    const size = h.type !== "file" ? 0 : data instanceof Uint8Array ? data.length : (h.size ?? 0);
    const name = h.type === "directory" && !h.name.endsWith("/") ? h.name + "/" : h.name;
    const ext = new Map<string, Uint8Array>();
    for (const [k, v] of Object.entries(h.xattrs ?? {})) ext.set(`SCHILY.xattr.${k}`, v);
    const mode = h.mode ?? (h.type === "directory" ? 0o755 : 0o644);
    const hdr = header(name, FLAG[h.type], { ...h, mode }, size, ext);
    if (ext.size > 0) {
      const body = paxBody(ext);
      yield header("PaxHeaders/" + name.slice(-80), "x", {}, body.length, new Map());
      yield body;
      yield padding(body.length);
    }
    yield hdr;
    if (h.type === "file" && data) {
      if (data instanceof Uint8Array) yield data;
      else {
        let n = 0;
        for await (const c of data) {
          n += c.length;
          if (n > size) throw new Error(`tar: ${h.name} grew while being packed`);
          yield c;
        }
        if (n !== size) throw new Error(`tar: ${h.name} shrank while being packed`);
      }
      yield padding(size);
    }
  }
  yield new Uint8Array(1024);
}
