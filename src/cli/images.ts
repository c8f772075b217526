/** Image commands: images, import, tag, rmi. */

import { writeOut } from "../../ffi/host.ts";
import { imagesInUse } from "../engine/control.ts";
import type { Paths } from "../engine/paths.ts";
import { importImage, listImages, removeImage, tagImage } from "../image/mod.ts";
import { ago, humanSize, printJsonLine, printTable } from "./format.ts";
import { needArgs, parse } from "./parse.ts";

/** `hako images`. */
export async function images(paths: Paths, argv: string[]) {
  const a = parse("images", {
    "--quiet": Boolean,
    "-q": "--quiet",
    "--no-trunc": Boolean,
    "--format": String,
    "--all": Boolean,
    "-a": "--all",
  }, argv);
  const list = await listImages(paths.root);
  const rows = list.flatMap((img) => {
    const tags = img.repoTags.length ? img.repoTags : ["<none>:<none>"];
    return tags.map((t) => {
      const i = t.lastIndexOf(":");
      const id = a["--no-trunc"] ? img.id : img.id.replace(/^sha256:/, "").slice(0, 12);
      return {
        Repository: t.slice(0, i),
        Tag: t.slice(i + 1),
        ID: id,
        CreatedSince: ago(img.created),
        CreatedAt: img.created,
        Size: humanSize(img.size),
      };
    });
  });
  if (a["--quiet"]) {
    writeOut([...new Set(rows.map((r) => r.ID))].map((x) => x + "\n").join(""));
  } else if (a["--format"] === "json") {
    for (const r of rows) printJsonLine(r);
  } else {
    printTable(
      ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
      rows.map((r) => [r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size]),
    );
  }
  return 0;
}

/** `hako import FILE|DIR|- [REPOSITORY[:TAG]]`. */
export async function importCmd(paths: Paths, argv: string[]) {
  const a = parse("import", {
    "--message": String,
    "-m": "--message",
    "--change": [String],
    "-c": "--change",
  }, argv);
  needArgs("import", a._, 1, "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]");
  const config: Record<string, unknown> = {};
  for (const ch of a["--change"] ?? []) {
    const m = /^(CMD|ENTRYPOINT|ENV|WORKDIR|USER)\s+(.*)$/s.exec(ch.trim());
    if (!m) {
      throw new (await import("../errors.ts")).UsageError(
        `unsupported --change "${ch}": use CMD, ENTRYPOINT, ENV, WORKDIR or USER`,
      );
    }
    const v = m[2].trim();
    const list = v.startsWith("[") ? JSON.parse(v) : ["/bin/sh", "-c", v];
    if (m[1] === "CMD") config.Cmd = list;
    else if (m[1] === "ENTRYPOINT") config.Entrypoint = list;
    else if (m[1] === "ENV") {
      config.Env = [...((config.Env as string[]) ?? []), v.replace(/\s+/, "=")];
    } else if (m[1] === "WORKDIR") config.WorkingDir = v;
    else config.User = v;
  }
  const img = await importImage(paths.root, a._[0], a._[1], { config, message: a["--message"] });
  writeOut(img.id + "\n");
  return 0;
}

/** `hako tag SOURCE TARGET`. */
export async function tag(paths: Paths, argv: string[]) {
  const a = parse("tag", {}, argv);
  needArgs("tag", a._, 2, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]");
  await tagImage(paths.root, a._[0], a._[1]);
  return 0;
}

/** `hako rmi [-f] IMAGE...`. */
export async function rmi(paths: Paths, argv: string[]) {
  const a = parse("rmi", { "--force": Boolean, "-f": "--force" }, argv);
  needArgs("rmi", a._, 1, "[OPTIONS] IMAGE [IMAGE...]");
  const used = await imagesInUse(paths);
  for (const ref of a._) {
    const r = await removeImage(paths.root, ref, {
      force: !!a["--force"],
      inUse: (id) => used.has(id),
    });
    writeOut(
      r.untagged.map((t) => `Untagged: ${t}\n`).join("") +
        r.deleted.map((d) => `Deleted: ${d}\n`).join(""),
    );
  }
  return 0;
}
