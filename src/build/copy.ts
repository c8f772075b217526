/**
 * COPY and ADD as a layer: what goes where (Docker's rules for directories, trailing
 * slashes and wildcards), a digest of the content for the build cache, and the layer tar.
 *
 * The layer holds the copied entries plus every parent directory of the destination: a
 * parent that exists in the image keeps its metadata (so copying into /tmp keeps it 1777),
 * one that does not is made 0755 and owned like the copied files. Files from the context
 * are owned by 0:0 unless `--chown` says otherwise; from a stage or image they keep their
 * owner. ADD of a local tar (plain, gzip or zstd) extracts it into the destination.
 */

import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import { InvalidDataError } from "../errors.ts";
import { decompress, detectCompression } from "../image/compression.ts";
import { components, LayeredTree } from "../image/layered.ts";
import { readFileChunks } from "../image/layer.ts";
import { byteOrder, PackState, tarEntriesFor, type WalkItem } from "../image/pack.ts";
import { readTar } from "../image/tar_reader.ts";
import type { TarWriteEntry } from "../image/tar_writer.ts";
import { writeTar } from "../image/tar_writer.ts";
import { cleanEntryPath } from "../image/unpack.ts";
import type { SourceTree } from "./context.ts";

/** What one COPY/ADD copies. */
export interface CopyRequest {
  /** Matched sources: the tree and the path in it. */
  sources: { tree: SourceTree; rel: string }[];
  /** Destination, absolute in the image; a trailing "/" means a directory. */
  dest: string;
  /** `--chown` as numbers; the context's files are otherwise 0:0. */
  owner?: { uid: number; gid: number };
  /** Keep the sources' owners (COPY --from) unless `owner` is given. */
  keepOwner?: boolean;
  /** `--chmod` permission bits. */
  perm?: number;
  /** ADD: extract local tar archives. */
  extract?: boolean;
  /** The instruction, for errors ("COPY app /x"). */
  what: string;
}

type PlanItem =
  | { kind: "fs"; item: WalkItem }
  | { kind: "dir"; rel: string; uid: number; gid: number };

/** A planned layer: the entries in order, archives to extract last, and a content digest. */
export interface CopyPlan {
  items: PlanItem[];
  archives: { abs: string; dest: string }[];
  digest: string;
}

async function isTarArchive(abs: string): Promise<boolean> {
  const fh = await fs.open(abs, "r");
  let head: Uint8Array;
  try {
    head = new Uint8Array(4);
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const it = readTar(decompress(detectCompression(head), readFileChunks(abs)));
  try {
    await it.next();
    return true;
  } catch (e) {
    if (e instanceof InvalidDataError) return false;
    throw e;
  } finally {
    await it.return(undefined).catch(() => {});
  }
}

async function fileDigest(abs: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of readFileChunks(abs)) h.update(c);
  return h.digest("hex");
}

/**
 * Works out the layer for a COPY/ADD onto the image whose layer dirs are `imageLayers`
 * (topmost first). Throws InvalidDataError naming the instruction for an impossible copy.
 */
export async function planCopy(req: CopyRequest, imageLayers: string[]): Promise<CopyPlan> {
  const image = new LayeredTree(imageLayers);
  const plan = new Map<string, PlanItem>();
  const archives: { abs: string; dest: string }[] = [];
  const hash = createHash("sha256");
  const dirUid = req.owner?.uid ?? 0, dirGid = req.owner?.gid ?? 0;
  const wantsDir = req.dest.endsWith("/") || req.dest.endsWith("/.");
  const srcInfo = [];
  for (const s of req.sources) {
    const f = await s.tree.lstat(s.rel);
    if (!f) throw new InvalidDataError(`${req.what}: ${s.rel} does not exist`);
    srcInfo.push({ ...s, f });
  }
  const destResolved = await image.resolve(req.dest, true);
  const destNow = await image.lstat(destResolved);
  const destIsDir = wantsDir || srcInfo.length > 1 || !!destNow?.st.isDirectory() ||
    (srcInfo.length === 1 && srcInfo[0].f.st.isDirectory());
  if (srcInfo.length > 1 && !wantsDir && !destNow?.st.isDirectory()) {
    throw new InvalidDataError(
      `${req.what}: when copying more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const dest = destIsDir ? destResolved : await image.resolve(req.dest, false);
  const ensureDir = async (rel: string) => {
    if (!rel || plan.has(rel)) return;
    const i = rel.lastIndexOf("/");
    if (i > 0) await ensureDir(rel.slice(0, i));
    const found = await image.lstat(rel);
    if (found && !found.st.isDirectory()) {
      throw new InvalidDataError(`${req.what}: /${rel} exists in the image and is not a directory`);
    }
    plan.set(
      rel,
      found
        ? { kind: "fs", item: { rel, abs: found.abs, st: found.st } }
        : { kind: "dir", rel, uid: dirUid, gid: dirGid },
    );
  };
  const add = async (item: WalkItem, tree: SourceTree) => {
    const owner = req.owner ?? (req.keepOwner ? undefined : { uid: 0, gid: 0 });
    const i = item.rel.lastIndexOf("/");
    if (i > 0) await ensureDir(item.rel.slice(0, i));
    plan.set(item.rel, { kind: "fs", item: { ...item, owner, perm: req.perm } });
    const st = item.st;
    const type = st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : st.isFile() ? "f" : "o";
    hash.update(`${item.rel}\0${type}\0${(req.perm ?? st.mode) & 0o7777}\0`);
    if (req.keepOwner && !req.owner) hash.update(`${st.uid}:${st.gid}\0`);
    if (type === "l") hash.update(`${await fs.readlink(item.abs)}\0`);
    else if (type === "f") hash.update(`${await fileDigest(item.abs)}\0`);
    else if (type === "o") hash.update(`${st.rdev}\0`);
    void tree;
  };
  if (destIsDir) await ensureDir(dest);
  for (const s of srcInfo) {
    const st = s.f.st;
    if (st.isDirectory()) {
      for await (const item of s.tree.walk(s.rel, dest)) await add(item, s.tree);
      continue;
    }
    const base = s.rel.split("/").pop()!;
    const target = destIsDir ? (dest ? `${dest}/${base}` : base) : dest;
    if (!target) throw new InvalidDataError(`${req.what}: cannot copy a file onto /`);
    if (req.extract && st.isFile() && await isTarArchive(s.f.abs)) {
      const into = destIsDir ? dest : target;
      await ensureDir(into);
      archives.push({ abs: s.f.abs, dest: into });
      hash.update(`archive\0${into}\0${await fileDigest(s.f.abs)}\0`);
      continue;
    }
    await add({ rel: target, abs: s.f.abs, st }, s.tree);
  }
  const items = [...plan.values()].sort((a, b) =>
    byteOrder(a.kind === "fs" ? a.item.rel : a.rel, b.kind === "fs" ? b.item.rel : b.rel)
  );
  return { items, archives, digest: "sha256:" + hash.digest("hex") };
}

/** Streams the planned layer as an uncompressed tar; mtimes clamped to `epoch`. */
export function copyLayerTar(plan: CopyPlan, epoch?: number): AsyncGenerator<Uint8Array> {
  return writeTar(entries(plan, epoch));
}

async function* entries(plan: CopyPlan, epoch?: number): AsyncGenerator<TarWriteEntry> {
  const state = new PackState({ epoch });
  for (const p of plan.items) {
    if (p.kind === "dir") {
      yield {
        header: {
          name: p.rel,
          type: "directory",
          mode: 0o755,
          uid: p.uid,
          gid: p.gid,
          mtime: epoch ?? 0,
        },
      };
    } else yield* await tarEntriesFor(p.item, state);
  }
  for (const a of plan.archives) {
    const head = new Uint8Array(4);
    const fh = await fs.open(a.abs, "r");
    try {
      await fh.read(head, 0, 4, 0);
    } finally {
      await fh.close();
    }
    const prefix = a.dest ? a.dest + "/" : "";
    for await (const e of readTar(decompress(detectCompression(head), readFileChunks(a.abs)))) {
      const h = e.header;
      const name = cleanEntryPath(h.name).join("/");
      if (!name) continue; // the archive's "./"
      const linkname = h.type === "link"
        ? prefix + cleanEntryPath(h.linkname).join("/")
        : h.linkname;
      const mtime = epoch !== undefined && h.mtime > epoch ? epoch : Math.floor(h.mtime);
      yield {
        header: { ...h, name: prefix + name, linkname, mtime, uname: "", gname: "" },
        data: h.type === "file" ? e.body() : undefined,
      };
    }
  }
}

/** The destination of a COPY as an absolute path: relative ones are under WORKDIR. */
export function destPath(dest: string, workdir: string | undefined): string {
  const trailing = dest.endsWith("/") || dest === "." || dest.endsWith("/.");
  const abs = dest.startsWith("/") ? dest : `${workdir || "/"}/${dest}`;
  const clean = "/" + components(abs).join("/");
  return trailing && clean !== "/" ? clean + "/" : clean;
}
