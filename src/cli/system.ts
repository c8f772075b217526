/** `hako system df|prune` and `hako image prune`: what the store uses and reclaiming it. */

import { isTerminal, readStdin, writeOut } from "../../ffi/host.ts";
import { readJsonOr } from "../../ffi/fs.ts";
import type { Paths } from "../engine/paths.ts";
import { HakoError } from "../errors.ts";
import { humanSize, printJsonLine, printTable } from "./format.ts";
import { twoWord } from "./image_cmds.ts";
import { parse } from "./parse.ts";

/** Image IDs containers use, and the layer diff_ids under containers (incl. build steps). */
async function containerUse(paths: Paths) {
  const { listContainers } = await import("../engine/control.ts");
  const { containerDir } = await import("../engine/record.ts");
  const { rootLayers } = await import("../runtime/create.ts");
  const containers = await listContainers(paths, true);
  const images = new Set<string>();
  const layers = new Set<string>();
  for (const c of containers) {
    images.add(c.Image);
    // deno-lint-ignore no-explicit-any
    const spec = await readJsonOr<any>(`${containerDir(paths, c.Id)}/config.json`, null);
    if (!spec) continue;
    for (const l of rootLayers(spec, "").layers) {
      const m = /\/layers\/([a-f0-9]{64})\/diff$/.exec(l);
      if (m) layers.add(`sha256:${m[1]}`);
    }
  }
  return { containers, images, layers };
}

/** `hako system df`. */
export async function systemDf(paths: Paths, argv: string[]) {
  const a = parse("system df", { "--format": String }, argv);
  const { storeUsage, diskUsage } = await import("../image/gc.ts");
  const { containerDir } = await import("../engine/record.ts");
  const use = await containerUse(paths);
  const u = await storeUsage(paths.root, use.images);
  let csize = 0, creclaim = 0, active = 0;
  for (const c of use.containers) {
    const s = await diskUsage(`${containerDir(paths, c.Id)}/upper`);
    csize += s;
    if (c.State.Running) active++;
    else creclaim += s;
  }
  const pct = (r: number, t: number) => (t ? ` (${Math.round((r / t) * 100)}%)` : "");
  const rows = [
    [
      "Images",
      String(u.images.total),
      String(u.images.active),
      humanSize(u.images.size),
      humanSize(u.images.reclaimable) + pct(u.images.reclaimable, u.images.size),
    ],
    [
      "Containers",
      String(use.containers.length),
      String(active),
      humanSize(csize),
      humanSize(creclaim) + pct(creclaim, csize),
    ],
    ["Local Volumes", "0", "0", "0B", "0B"],
    [
      "Build Cache",
      String(u.buildCache.layers),
      "0",
      humanSize(u.buildCache.size),
      humanSize(u.buildCache.size),
    ],
  ];
  if (a["--format"] === "json") {
    for (const r of rows) {
      printJsonLine({ Type: r[0], TotalCount: r[1], Active: r[2], Size: r[3], Reclaimable: r[4] });
    }
  } else printTable(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows);
  return 0;
}

/** `hako system prune [-a] [-f]`. */
export async function systemPrune(paths: Paths, argv: string[]) {
  const a = parse("system prune", {
    "--all": Boolean,
    "-a": "--all",
    "--force": Boolean,
    "-f": "--force",
    "--volumes": Boolean,
  }, argv);
  if (!a["--force"]) {
    writeOut(
      `WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - ${
        a["--all"]
          ? "all images without at least one container associated to them"
          : "all dangling images"
      }\n  - all build cache\n\nAre you sure you want to continue? [y/N] `,
    );
    const answer = isTerminal(0) ? await readLine() : "";
    if (!/^y(es)?$/i.test(answer.trim())) {
      writeOut("\n");
      throw new HakoError("prune cancelled (use -f to skip the question)");
    }
  }
  const { removeContainer } = await import("../engine/control.ts");
  const { diskUsage, pruneBuildCache, pruneImages } = await import("../image/gc.ts");
  const { containerDir } = await import("../engine/record.ts");
  let reclaimed = 0;
  let use = await containerUse(paths);
  const removed: string[] = [];
  for (const c of use.containers) {
    if (c.State.Running) continue;
    reclaimed += await diskUsage(containerDir(paths, c.Id));
    await removeContainer(paths, c.Id, false);
    removed.push(c.Id);
  }
  if (removed.length) writeOut(`Deleted Containers:\n${removed.map((r) => r + "\n").join("")}\n`);
  // Unused user networks, and what crashed launchers left (leases, NAT rules).
  const { pruneNetworks } = await import("../net/remove.ts");
  const nets = await pruneNetworks(paths);
  if (nets.length) writeOut(`Deleted Networks:\n${nets.map((n) => n + "\n").join("")}\n`);
  use = await containerUse(paths);
  const imgs = await pruneImages(paths.root, use.images, !!a["--all"]);
  if (imgs.untagged.length || imgs.deletedImages.length) {
    writeOut(
      "Deleted Images:\n" + imgs.untagged.map((t) => `untagged: ${t}\n`).join("") +
        [...imgs.deletedImages, ...imgs.deletedLayers].map((d) => `deleted: ${d}\n`).join("") +
        "\n",
    );
  }
  const cache = await pruneBuildCache(paths.root, use.layers);
  if (cache.deletedLayers.length) {
    writeOut(
      `Deleted build cache objects:\n${cache.deletedLayers.map((d) => d + "\n").join("")}\n`,
    );
  }
  reclaimed += imgs.reclaimed + cache.reclaimed;
  writeOut(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

async function readLine(): Promise<string> {
  const b = await readStdin();
  return new TextDecoder().decode(b).split("\n")[0] ?? "";
}

/** `hako image prune [-a] [-f]`: dangling (or all unused) images only. */
export async function imagePrune(paths: Paths, argv: string[]) {
  const a = parse("image prune", {
    "--all": Boolean,
    "-a": "--all",
    "--force": Boolean,
    "-f": "--force",
  }, argv);
  const { pruneImages } = await import("../image/gc.ts");
  const use = await containerUse(paths);
  const r = await pruneImages(paths.root, use.images, !!a["--all"]);
  if (r.untagged.length || r.deletedImages.length) {
    writeOut(
      "Deleted Images:\n" + r.untagged.map((t) => `untagged: ${t}\n`).join("") +
        [...r.deletedImages, ...r.deletedLayers].map((d) => `deleted: ${d}\n`).join("") + "\n",
    );
  }
  writeOut(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
  return 0;
}

/** `hako system df|prune`. */
export async function system(paths: Paths, argv: string[]): Promise<number> {
  return await twoWord(
    "system",
    { df: () => Promise.resolve(systemDf), prune: () => Promise.resolve(systemPrune) },
    paths,
    argv,
  );
}
