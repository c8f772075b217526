/**
 * unpack: one large gzip layer taken apart by `hako import` (store the blob, unpack the
 * layer), GNU tar and `umoci unpack`. The layer is generated: many small text-like files
 * (compressible, like a distribution's /usr) and a few large random ones (like binaries).
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { attempt, hako } from "./engines.ts";
import { ociLayout } from "./fixture.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { missing } from "./peers.ts";
import { sh } from "./proc.ts";
import { addRatios, type Case, measure } from "./runner.ts";

const WORDS = "container layer image kernel namespace cgroup overlay mount process signal socket"
  .split(" ");

/** A deterministic xorshift generator, so every run unpacks the same bytes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Writes the layer's tree under `dir`; returns its size in bytes. */
async function makeTree(dir: string, smallFiles: number, bigFiles: number, bigSize: number) {
  const r = rng(42);
  let total = 0;
  for (let i = 0; i < smallFiles; i++) {
    const d = `${dir}/usr/share/bench/${(i % 64).toString(16).padStart(2, "0")}`;
    if (i < 64) await fs.mkdir(d, { recursive: true });
    const size = 1024 + (r() % 15360);
    let s = "";
    while (s.length < size) s += WORDS[r() % WORDS.length] + (r() % 8 === 0 ? "\n" : " ");
    await fs.writeFile(`${d}/file-${i}.txt`, s.slice(0, size));
    total += size;
  }
  await fs.mkdir(`${dir}/usr/lib/bench`, { recursive: true });
  for (let i = 0; i < bigFiles; i++) {
    const b = new Uint32Array(bigSize / 4);
    for (let k = 0; k < b.length; k++) b[k] = r();
    await fs.writeFile(`${dir}/usr/lib/bench/blob-${i}.bin`, new Uint8Array(b.buffer));
    total += bigSize;
  }
  return total;
}

/** The unpack group. */
export const unpack: Group = {
  name: "unpack",
  title: "Unpack: one large gzip layer",
  summary: "hako import vs GNU tar vs umoci unpack",
  defaultRuns: 5,
  peers: ["hako", "tar", "umoci"],
  async run(ctx: Context): Promise<GroupResult> {
    const dir = `${ctx.work}/unpack`;
    const tree = `${dir}/tree`;
    const layer = `${dir}/layer.tar.gz`;
    await fs.mkdir(tree, { recursive: true });
    const small = ctx.quick ? 200 : 20_000,
      big = ctx.quick ? 1 : 8,
      bigSize = (ctx.quick ? 1 : 8) << 20;
    ctx.log(`unpack: generating a layer of ${small} small and ${big} large files`);
    const bytes = await makeTree(tree, small, big, bigSize);
    await sh(["tar", "-C", tree, "-czf", layer, "."]);
    await fs.remove(tree, { recursive: true });
    const gz = (await fs.stat(layer))!.size;
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

    const cases: Case[] = [];
    const h = await attempt(() => hako(ctx));
    const hroot = `${dir}/hako`;
    const hbin = typeof h === "string" ? null : h.bin;
    cases.push({
      id: "hako",
      label: "hako import (store the blob, unpack the layer)",
      kind: "hako",
      argv: [...(hbin ? [hbin[0]] : ["hako"]), "--root", hroot, "import", layer, "bench-unpack:1"],
      skip: typeof h === "string" ? h : h.binMissing,
      note: "a fresh store each run; includes hashing the blob and writing the image record",
      prepare: () => fs.remove(hroot, { recursive: true }).catch(() => {}),
      cleanup: () => fs.remove(hroot, { recursive: true }).catch(() => {}),
    });
    const tdir = `${dir}/tar-out`;
    cases.push({
      id: "tar",
      label: "GNU tar -xzf",
      kind: "tool",
      argv: ["tar", "-xzf", layer, "-C", tdir],
      skip: missing(ctx.peers, "tar"),
      prepare: async () => {
        await fs.remove(tdir, { recursive: true }).catch(() => {});
        await fs.mkdir(tdir);
      },
      cleanup: () => fs.remove(tdir, { recursive: true }).catch(() => {}),
    });
    const udir = `${dir}/umoci-bundle`;
    let umociSkip = missing(ctx.peers, "umoci");
    if (!umociSkip) {
      const l = await attempt(() =>
        ociLayout(`${dir}/oci`, layer, "bench", "docker.io/library/bench-unpack:1")
      );
      if (typeof l === "string" && !l.startsWith("/")) {
        umociSkip = `making the OCI layout failed: ${l}`;
      }
    }
    cases.push({
      id: "umoci",
      label: "umoci unpack",
      kind: "tool",
      argv: [ctx.peers.byId.umoci.path ?? "umoci", "unpack", "--image", `${dir}/oci:bench`, udir],
      skip: umociSkip,
      note: "umoci also writes an mtree manifest of the unpacked tree and a config.json",
      prepare: () => fs.remove(udir, { recursive: true }).catch(() => {}),
      cleanup: () => fs.remove(udir, { recursive: true }).catch(() => {}),
    });

    const rows = await measure(cases, {
      runs: ctx.runs,
      warmup: Math.min(ctx.warmup, 1),
      log: ctx.log,
      group: "unpack",
      stopped: ctx.stopped,
    });
    addRatios(rows, "hako");
    for (const r of rows) {
      if (r.summary) {
        r.extra = {
          Throughput: `${(bytes / 1048576 / (r.summary.median / 1000)).toFixed(0)} MiB/s`,
        };
      }
    }
    return {
      name: "unpack",
      title: this.title,
      description:
        `One generated gzip layer: ${small} text-like files of 1–16 KiB and ${big} random files of ${
          mib(bigSize)
        }; ` +
        `${mib(bytes)} of file data, ${
          mib(gz)
        } compressed. Each run unpacks it into an empty directory (removed between runs, untimed).`,
      notes: [
        "Throughput is file data over the median time.",
        "The page cache holds the compressed layer after the first read (warm cache for every case alike).",
      ],
      baseline: "hako",
      columns: ["Throughput"],
      rows,
    };
  },
};
