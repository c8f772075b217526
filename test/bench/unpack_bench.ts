/**
 * Unpack throughput of one large gzip layer: hako's layer store (one pass: blob copy,
 * digest, gunzip, diff_id, unpack with metadata) against GNU `tar -xzf` of the same file,
 * side by side, alternating, in one run. Not a test (no timing thresholds in tests).
 *
 *   deno run -A test/bench/unpack_bench.ts LAYER.tar.gz [rounds]
 *   bun test/bench/unpack_bench.ts LAYER.tar.gz [rounds]
 */

import * as fs from "../../ffi/fs.ts";
import { storeLayerFromTar } from "../../src/image/layer.ts";
import { decompress } from "../../src/image/compression.ts";
import { readFileChunks } from "../../src/image/layer.ts";
import { readTar } from "../../src/image/tar_reader.ts";
import { unpackEntries } from "../../src/image/unpack.ts";
import { run } from "../fixtures.ts";
import { runtime } from "../harness.ts";

// deno-lint-ignore no-explicit-any
const argv: string[] = (globalThis as any).Deno?.args ?? (globalThis as any).process.argv.slice(2);
const layer = argv[0];
const rounds = Number(argv[1] ?? 3);
if (!layer) throw new Error("usage: unpack_bench.ts LAYER.tar.gz [rounds]");
const size = (await fs.stat(layer))!.size;
const work = await fs.makeTempDir({ prefix: "hako-unpack-bench-", dir: "/var/tmp" });

async function dropCaches() {
  await run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], { check: false });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const results: Record<string, number[]> = {
  "GNU tar -xzf": [],
  "hako store layer": [],
  "hako unpack only": [],
};
try {
  for (let i = 0; i < rounds; i++) {
    const d1 = `${work}/tar-${i}`;
    await fs.mkdir(d1);
    await dropCaches();
    results["GNU tar -xzf"].push(
      await timed(async () => {
        await run([
          "tar",
          "--numeric-owner",
          "--xattrs",
          "--xattrs-include=*",
          "-xzf",
          layer,
          "-C",
          d1,
        ]);
      }),
    );
    await fs.remove(d1, { recursive: true });
    const root = `${work}/store-${i}`;
    await dropCaches();
    results["hako store layer"].push(
      await timed(async () => {
        await storeLayerFromTar(root, layer);
      }),
    );
    await fs.remove(root, { recursive: true });
    const d2 = `${work}/unpack-${i}`;
    await fs.mkdir(d2);
    await dropCaches();
    results["hako unpack only"].push(
      await timed(async () => {
        await unpackEntries(readTar(decompress("gzip", readFileChunks(layer))), d2);
      }),
    );
    await fs.remove(d2, { recursive: true });
  }
} finally {
  await fs.remove(work, { recursive: true });
}
const mb = size / 1e6;
console.log(
  `${runtime}: ${layer} (${
    mb.toFixed(1)
  } MB gzip), ${rounds} rounds, page cache dropped before each`,
);
for (const [k, v] of Object.entries(results)) {
  const best = Math.min(...v);
  const med = [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(
    `  ${k.padEnd(18)} best ${best.toFixed(2)} s  median ${med.toFixed(2)} s  (${
      (mb / med).toFixed(1)
    } MB/s compressed)`,
  );
}
