/**
 * Image and layer commands: history, image tree, save, load, export, commit, diff, and
 * `system df|prune`; plus the `image` and `system` two-word dispatchers.
 */

import { isTerminal, stdinStream, writeOut } from "../../ffi/host.ts";
import { E, SysError, write as writeFd } from "../../ffi/mod.ts";
import type { Paths } from "../engine/paths.ts";
import { UsageError } from "../errors.ts";
import { ago, humanSize, printJsonLine, printTable } from "./format.ts";
import { needArgs, parse } from "./parse.ts";

/** Writes a stream to a file (`-o`) or to stdout, refusing a terminal like docker. */
async function sink(
  out: string | undefined,
  what: string,
  stream: AsyncIterable<Uint8Array>,
): Promise<void> {
  if (out) {
    const fs = await import("node:fs/promises");
    const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    const fh = await fs.open(tmp, "w", 0o644);
    try {
      for await (const c of stream) {
        let off = 0;
        while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
      await fh.close();
      await fs.rename(tmp, out);
    } catch (e) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw e;
    }
    return;
  }
  if (isTerminal(1)) {
    throw new UsageError(`cowardly refusing to ${what} to a terminal; use the -o flag or redirect`);
  }
  // Straight to fd 1 with write(2): a runtime's buffered stdout could drop the tail at exit.
  for await (const c of stream) {
    let off = 0;
    while (off < c.length) {
      try {
        off += writeFd(1, c.subarray(off));
      } catch (e) {
        if (e instanceof SysError && e.errno === E.EAGAIN) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        throw e;
      }
    }
  }
}

/** `hako history [--no-trunc] [-q] [--format json] [-H=false] IMAGE`. */
export async function history(paths: Paths, argv: string[]) {
  const a = parse("history", {
    "--no-trunc": Boolean,
    "--quiet": Boolean,
    "-q": "--quiet",
    "--format": String,
    "--human": String,
    "-H": "--human",
  }, argv);
  needArgs("history", a._, 1, "[OPTIONS] IMAGE");
  const { imageHistory } = await import("../image/history.ts");
  const rows = await imageHistory(paths.root, a._[0]);
  const human = a["--human"] !== "false";
  const id = (s: string) =>
    s === "<missing>" || a["--no-trunc"] ? s : s.replace(/^sha256:/, "").slice(0, 12);
  if (a["--quiet"]) {
    writeOut(rows.map((r) => id(r.id) + "\n").join(""));
    return 0;
  }
  if (a["--format"] === "json") {
    for (const r of rows) {
      printJsonLine({
        ID: id(r.id),
        CreatedAt: r.created,
        CreatedSince: ago(r.created),
        CreatedBy: r.createdBy,
        Size: human ? humanSize(r.size) : String(r.size),
        Comment: r.comment,
      });
    }
    return 0;
  }
  const by = (s: string) => (a["--no-trunc"] || s.length <= 45 ? s : s.slice(0, 44) + "…");
  printTable(
    ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
    rows.map((r) => [
      id(r.id),
      human ? ago(r.created) : r.created,
      by(r.createdBy),
      human ? humanSize(r.size) : String(r.size),
      r.comment,
    ]),
  );
  return 0;
}

/** `hako image tree`. */
export async function tree(paths: Paths, argv: string[]) {
  const a = parse("image tree", { "--no-trunc": Boolean }, argv);
  const { imageTree } = await import("../image/tree.ts");
  const t = await imageTree(paths.root);
  const short = (d: string) => (a["--no-trunc"] ? d : d.slice(7, 19));
  let out = "";
  const walk = (nodes: typeof t.roots, indent: string) => {
    nodes.forEach((n, i) => {
      const lastChild = i === nodes.length - 1;
      const branch = indent === "" && nodes === t.roots ? "" : lastChild ? "└─ " : "├─ ";
      const shared = n.images > 1 ? `  shared by ${n.images} images` : "";
      const ends = n.ends.map((e) =>
        e.tags.length ? e.tags.join(", ") : `<none> (${e.id.slice(7, 19)})`
      );
      out += `${indent}${branch}${short(n.diffId)}  ${humanSize(n.size)}${shared}${
        ends.length ? `  ← ${ends.join("; ")}` : ""
      }\n`;
      const next = indent + (branch === "" ? "" : lastChild ? "   " : "│  ");
      walk(n.children, next);
    });
  };
  walk(t.roots, "");
  out += `\n${t.images} images, ${t.layers} layers: ${humanSize(t.stored)} stored, ` +
    `${humanSize(t.unshared)} without sharing; sharing saves ${humanSize(t.unshared - t.stored)}\n`;
  writeOut(out);
  return 0;
}

/** `hako save [-o FILE] IMAGE...`. */
export async function save(paths: Paths, argv: string[]) {
  const a = parse("save", { "--output": String, "-o": "--output" }, argv);
  needArgs("save", a._, 1, "[OPTIONS] IMAGE [IMAGE...]");
  const { saveImages } = await import("../image/save.ts");
  await sink(a["--output"], "save images", await saveImages(paths.root, a._));
  return 0;
}

/** `hako load [-i FILE] [-q]`. */
export async function load(paths: Paths, argv: string[]) {
  const a = parse("load", {
    "--input": String,
    "-i": "--input",
    "--quiet": Boolean,
    "-q": "--quiet",
  }, argv);
  const { loadImages } = await import("../image/load.ts");
  let source: string | AsyncIterable<Uint8Array> | undefined = a["--input"];
  if (!source) {
    if (isTerminal(0)) {
      throw new UsageError("requested load from stdin, but stdin is empty; use -i FILE or a pipe");
    }
    source = stdinStream() as unknown as AsyncIterable<Uint8Array>;
  }
  const loaded = await loadImages(paths.root, source);
  for (const img of loaded) {
    if (img.tags.length) { for (const t of img.tags) writeOut(`Loaded image: ${t}\n`); }
    else writeOut(`Loaded image ID: ${img.id}\n`);
  }
  return 0;
}

/** `hako export [-o FILE] CONTAINER`. */
export async function exportCmd(paths: Paths, argv: string[]) {
  const a = parse("export", { "--output": String, "-o": "--output" }, argv);
  needArgs("export", a._, 1, "[OPTIONS] CONTAINER");
  const { containerSource } = await import("../build/container.ts");
  const { exportLayers } = await import("../image/export.ts");
  const { source } = await containerSource(paths, a._[0]);
  await sink(a["--output"], "export a container", exportLayers([source.upper, ...source.lowers]));
  return 0;
}

/** `hako commit [-m MSG] [-a AUTHOR] [-c CHANGE]... CONTAINER [REPOSITORY[:TAG]]`. */
export async function commit(paths: Paths, argv: string[]) {
  const a = parse("commit", {
    "--message": String,
    "-m": "--message",
    "--author": String,
    "-a": "--author",
    "--change": [String],
    "-c": "--change",
    "--pause": String,
    "-p": "--pause",
  }, argv);
  needArgs("commit", a._, 1, "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]");
  const { commitContainer } = await import("../build/commit.ts");
  const id = await commitContainer(paths, a._[0], {
    tag: a._[1],
    message: a["--message"],
    author: a["--author"],
    changes: a["--change"],
  });
  writeOut(id + "\n");
  return 0;
}

/** `hako diff CONTAINER`. */
export async function diff(paths: Paths, argv: string[]) {
  const a = parse("diff", {}, argv);
  needArgs("diff", a._, 1, "CONTAINER");
  const { containerSource } = await import("../build/container.ts");
  const { containerChanges } = await import("../image/changeset.ts");
  const { source } = await containerSource(paths, a._[0]);
  writeOut((await containerChanges(source)).map((c) => `${c.kind} ${c.path}\n`).join(""));
  return 0;
}

type Cmd = (paths: Paths, argv: string[]) => Promise<number>;

/** `hako image SUBCOMMAND`: tree, prune, and the image commands under their docker names. */
export async function image(paths: Paths, argv: string[]): Promise<number> {
  const images = () => import("./images.ts");
  const subs: Record<string, () => Promise<Cmd>> = {
    tree: () => Promise.resolve(tree),
    prune: async () => (await import("./system.ts")).imagePrune,
    history: () => Promise.resolve(history),
    save: () => Promise.resolve(save),
    load: () => Promise.resolve(load),
    ls: async () => (await images()).images,
    list: async () => (await images()).images,
    rm: async () => (await images()).rmi,
    tag: async () => (await images()).tag,
    import: async () => (await images()).importCmd,
  };
  return await twoWord("image", subs, paths, argv);
}

/** Dispatches `hako GROUP SUB ...` to the subcommand. */
export async function twoWord(
  group: string,
  subs: Record<string, () => Promise<Cmd>>,
  paths: Paths,
  argv: string[],
): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === "--help" || sub === "-h") {
    writeOut(
      `Usage:  hako ${group} COMMAND\n\nCommands:\n${
        Object.keys(subs).map((s) => `  ${s}\n`).join("")
      }`,
    );
    return sub ? 0 : 1;
  }
  const f = subs[sub];
  if (!f) throw new UsageError(`unknown command "${sub}" for "hako ${group}"`);
  return await (await f())(paths, argv.slice(1));
}
