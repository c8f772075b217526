/**
 * Test helper (not part of the API): multi-layer images built straight into a store —
 * a busybox base layer plus small app layers — and OCI layouts for skopeo.
 */

import * as fs from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { makeBusyboxTar } from "../../test/fixtures.ts";
import { hostArchitecture } from "../image/import.ts";
import { storeLayerFromTar } from "../image/layer.ts";
import { DEFAULT_PATH_ENV, type ImageConfig } from "../image/oci.ts";
import { tagKey } from "../image/reference.ts";
import { resolveImage } from "../image/resolve.ts";
import { writeTar } from "../image/tar_writer.ts";
import { type LayerBlob, writeImage } from "../image/write_image.ts";

/** A gzip'd layer tar holding `files` (path → content), directories made as needed. */
export async function layerTarGz(files: Record<string, string | Uint8Array>): Promise<Uint8Array> {
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const entries = [
    ...[...dirs].sort().map((d) => ({
      header: { name: d + "/", type: "directory" as const, mode: 0o755, mtime: 1_700_000_000 },
    })),
    ...Object.entries(files).map(([name, data]) => ({
      header: {
        name,
        type: "file" as const,
        mode: 0o755,
        mtime: 1_700_000_000,
        size: typeof data === "string" ? new TextEncoder().encode(data).length : data.length,
      },
      data,
    })),
  ];
  const parts: Uint8Array[] = [];
  for await (const c of writeTar(entries)) parts.push(c);
  const tar = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) tar.set(p, o), o += p.length;
  return new Uint8Array(gzipSync(tar));
}

/** Incompressible bytes, so layer sizes in measurements are what they say. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

let baseTar: Uint8Array | null = null;

/** The busybox base layer (made once per test process). */
export async function busyboxLayer(): Promise<Uint8Array> {
  if (!baseTar) {
    const dir = await fs.mkdtemp("/tmp/hako-bb-");
    try {
      await makeBusyboxTar(`${dir}/bb.tar.gz`);
      baseTar = new Uint8Array(await fs.readFile(`${dir}/bb.tar.gz`));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  return baseTar;
}

async function* once(b: Uint8Array) {
  yield b;
}

/** Stores `layers` (tar bytes, bottom first) as an image tagged `ref`; returns its ID. */
export async function makeImage(
  root: string,
  ref: string,
  layers: Uint8Array[],
  opts: { architecture?: string; cmd?: string[] } = {},
): Promise<string> {
  const blobs: LayerBlob[] = [];
  const diffIds: string[] = [];
  for (const l of layers) {
    const s = await storeLayerFromTar(root, once(l));
    blobs.push(s);
    diffIds.push(s.diffId);
  }
  const config: ImageConfig = {
    created: "2026-01-01T00:00:00Z",
    architecture: opts.architecture ?? hostArchitecture(),
    os: "linux",
    config: { Env: [DEFAULT_PATH_ENV], Cmd: opts.cmd ?? ["sh"] },
    rootfs: { type: "layers", diff_ids: diffIds },
  };
  const { id } = await writeImage(root, config, blobs, [tagKey(ref)]);
  return id;
}

/** webapp:1 and webapp:2: one busybox base, and an app layer that differs. */
export async function makeWebapp(root: string, name = "webapp", appBytes = 256 * 1024) {
  const base = await busyboxLayer();
  const v1 = await layerTarGz({ "app/version": "1\n", "app/payload": randomBytes(appBytes) });
  const v2 = await layerTarGz({ "app/version": "2\n", "app/payload": randomBytes(appBytes) });
  const id1 = await makeImage(root, `${name}:1`, [base, v1], { cmd: ["cat", "/app/version"] });
  const id2 = await makeImage(root, `${name}:2`, [base, v2], { cmd: ["cat", "/app/version"] });
  const img1 = await resolveImage(root, id1);
  const img2 = await resolveImage(root, id2);
  return { id1, id2, base: base.length, v1: v1.length, v2: v2.length, img1, img2 };
}

/** Reads a stored blob. */
export async function storedBlob(root: string, digest: string): Promise<Uint8Array> {
  return new Uint8Array(await fs.readFile(`${root}/blobs/sha256/${digest.slice(7)}`));
}
