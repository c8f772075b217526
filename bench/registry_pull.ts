/**
 * Registry measurements for issue 8, against Debian's docker-registry on 127.0.0.1:
 *
 * 1. Pull webapp:1 then webapp:2 (one busybox base, one app layer that differs) into a
 *    fresh store: blob bytes served for each pull, from the registry's own access log,
 *    against the layer sizes.
 * 2. A ~150 MB, 3-layer image (files of /usr/bin, gzip): pull with hako, `skopeo copy` to
 *    an OCI directory, and `podman pull` (overlay storage), alternating, fresh destination
 *    each run; median of N.
 *
 *   bun bench/registry_pull.ts [--runs 3] [--hako "<argv prefix>"] [--json out.json]
 *
 * `--hako` defaults to a `bun build --compile` of cli.ts made in a temp dir.
 */

import * as fs from "node:fs/promises";
import { execFileSync, spawnSync } from "node:child_process";
import { makeTempDir } from "../ffi/fs.ts";
import { readFileChunks, storeLayerFromTar } from "../src/image/layer.ts";
import { hostArchitecture } from "../src/image/import.ts";
import { DEFAULT_PATH_ENV } from "../src/image/oci.ts";
import { writeImage } from "../src/image/write_image.ts";
import { pushImage } from "../src/registry/push.ts";
import { makeWebapp } from "../src/registry/test_images.ts";
import { TestRegistry } from "../src/registry/test_registry.ts";

const argv = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const RUNS = Number(opt("--runs", "3"));
const ROOT = new URL("..", import.meta.url).pathname;

/** Runs a command; wall seconds and CPU seconds (user+sys, children included, via time(1)). */
function sh(cmd: string[], env: Record<string, string> = {}): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "@cpu %U %S", ...cmd], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...(globalThis as unknown as { process: { env: Record<string, string> } }).process.env,
      ...env,
    },
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
  const m = /@cpu ([\d.]+) ([\d.]+)/.exec(String(r.stderr));
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (n: number) => (n / 1e6).toFixed(2) + " MB";

const work = await makeTempDir({ prefix: "hako-bench-reg-" });
const reg = await TestRegistry.start();
const results: Record<string, unknown> = {};
try {
  let hako = opt("--hako", "").split(" ").filter(Boolean);
  if (!hako.length) {
    execFileSync(`${ROOT}node_modules/.bin/bun`, [
      "build",
      "--compile",
      "--minify",
      "--outfile",
      `${work}/hako`,
      `${ROOT}cli.ts`,
    ], { stdio: "ignore", cwd: ROOT });
    hako = [`${work}/hako`];
  }
  const cfgEnv = { HAKO_CONFIG: `${work}/config`, HOME: `${work}/home` };

  // 1. webapp:1 then webapp:2.
  const src = `${work}/src`;
  const w = await makeWebapp(src, "webapp", 1024 * 1024);
  const names = new Map<string, string>();
  for (const [t, img] of [["1", w.img1], ["2", w.img2]] as const) {
    const m = JSON.parse(
      await fs.readFile(`${src}/blobs/sha256/${img.manifestDigest.slice(7)}`, "utf8"),
    );
    names.set(m.config.digest, `config of webapp:${t}`);
    names.set(m.layers[0].digest, "busybox base layer");
    names.set(m.layers[1].digest, `app layer of webapp:${t}`);
  }
  for (const t of ["1", "2"]) await pushImage(src, `webapp:${t}`, `${reg.host}/webapp:${t}`);
  const dst = `${work}/dst`;
  const pulls: Record<string, unknown>[] = [];
  for (const t of ["1", "2"]) {
    const before = (await reg.accessLog()).length;
    const secs = sh([...hako, "--root", dst, "pull", "-q", `${reg.host}/webapp:${t}`], cfgEnv).wall;
    const log = (await reg.accessLog()).slice(before);
    const blobs = log.filter((e) => e.method === "GET" && e.path.includes("/blobs/"));
    const manifests = log.filter((e) => e.path.includes("/manifests/"));
    pulls.push({
      tag: `webapp:${t}`,
      seconds: Number(secs.toFixed(3)),
      blobBytes: blobs.reduce((n, e) => n + e.bytes, 0),
      manifestBytes: manifests.reduce((n, e) => n + e.bytes, 0),
      blobs: blobs.map((e) => ({
        blob: names.get(e.path.split("/").pop()!) ?? e.path,
        bytes: e.bytes,
      })),
    });
  }
  results.webapp = {
    layers: { base: w.base, app1: w.v1, app2: w.v2 },
    pulls,
  };
  console.log(
    `\n== webapp (layer sizes: base ${mb(w.base)}, app v1 ${mb(w.v1)}, app v2 ${mb(w.v2)})`,
  );
  for (const p of pulls) {
    console.log(
      `${p.tag}: blob bytes served ${
        mb(p.blobBytes as number)
      } (+ manifest ${p.manifestBytes} B) in ${p.seconds}s`,
    );
    for (const b of p.blobs as { blob: string; bytes: number }[]) {
      console.log(`   ${b.blob.padEnd(24)} ${b.bytes} B`);
    }
  }

  // 2. ~150 MB, 3 layers.
  const listing = execFileSync("sh", [
    "-c",
    "cd / && find usr/bin -type f -printf '%s %p\\n' | sort -k2",
  ], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }).split("\n").filter(Boolean).map((l) => l.split(" "));
  const files = listing.map((x) => x[1]);
  const sizes = listing.map((x) => Number(x[0]));
  const perLayer = 120e6; // raw bytes per layer; gzip -6 makes ~50 MB of each
  const groups: string[][] = [[]];
  let acc = 0;
  for (const [i, f] of files.entries()) {
    if (acc > perLayer) {
      if (groups.length === 3) break;
      groups.push([]);
      acc = 0;
    }
    groups.at(-1)!.push(f);
    acc += sizes[i];
  }
  const big = `${work}/big`;
  const layers = [];
  for (const [i, g] of groups.entries()) {
    await fs.writeFile(`${work}/list${i}`, g.join("\n") + "\n");
    execFileSync("sh", [
      "-c",
      `tar -C / -cf - -T ${work}/list${i} | gzip -6 > ${work}/layer${i}.tar.gz`,
    ]);
    layers.push(await storeLayerFromTar(big, readFileChunks(`${work}/layer${i}.tar.gz`)));
    await fs.rm(`${work}/layer${i}.tar.gz`);
  }
  const config = {
    architecture: hostArchitecture(),
    os: "linux",
    config: { Env: [DEFAULT_PATH_ENV] },
    rootfs: { type: "layers" as const, diff_ids: layers.map((l) => l.diffId) },
  };
  await writeImage(big, config, layers, ["big:1"]);
  await pushImage(big, "big:1", `${reg.host}/big:1`);
  await fs.rm(big, { recursive: true, force: true });
  const total = layers.reduce((n, l) => n + l.blobSize, 0);
  const times: Record<string, { wall: number; cpu: number }[]> = {
    hako: [],
    skopeo: [],
    podman: [],
  };
  const ref = `${reg.host}/big:1`;
  for (let r = 0; r < RUNS; r++) {
    const d = await makeTempDir({ prefix: "hbr-" });
    try {
      times.hako.push(sh([...hako, "--root", `${d}/hako`, "pull", "-q", ref], cfgEnv));
      times.skopeo.push(
        sh(["skopeo", "copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `oci:${d}/oci:1`]),
      );
      const pm = [
        "podman",
        "--root",
        `${d}/pr`,
        "--runroot",
        `${d}/pu`,
        "--storage-driver",
        "overlay",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
      ];
      try {
        times.podman.push(sh([...pm, "pull", "-q", "--tls-verify=false", ref]));
      } finally {
        spawnSync(pm[0], [...pm.slice(1), "system", "reset", "-f"], { stdio: "ignore" });
      }
    } finally {
      await fs.rm(d, { recursive: true, force: true });
    }
  }
  const med = (v: { wall: number; cpu: number }[]) => ({
    wall: median(v.map((x) => x.wall)),
    cpu: median(v.map((x) => x.cpu)),
  });
  results.big = {
    layers: layers.map((l) => l.blobSize),
    unpacked: layers.reduce((n, l) => n + l.size, 0),
    runs: times,
    median: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, med(v)])),
  };
  console.log(
    `\n== ${ref}: 3 gzip layers, ${mb(total)} compressed (${
      layers.map((l) => mb(l.blobSize)).join(", ")
    }), ${mb((results.big as { unpacked: number }).unpacked)} unpacked; ${RUNS} runs, median`,
  );
  console.log("tool    wall     cpu (user+sys)  runs (wall)");
  for (const [k, v] of Object.entries(times)) {
    const what = k === "skopeo"
      ? "to an OCI dir (no unpack)"
      : k === "podman"
      ? "overlay storage"
      : "layers unpacked";
    const m = med(v);
    console.log(
      `${k.padEnd(7)} ${m.wall.toFixed(2)}s   ${m.cpu.toFixed(2)}s          (${
        v.map((x) => x.wall.toFixed(2)).join(", ")
      })  ${what}`,
    );
  }
  const json = opt("--json", "");
  if (json) await fs.writeFile(json, JSON.stringify(results, null, 2) + "\n");
} finally {
  await reg.stop();
  await fs.rm(work, { recursive: true, force: true });
}
