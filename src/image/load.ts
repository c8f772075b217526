/**
 * `hako load`: images from a tar (plain, gzip or zstd) in either format others write:
 *
 * - docker-archive: `manifest.json` listing Config and Layers paths and RepoTags (`docker
 *   save`, `podman save`, `skopeo copy … docker-archive:`), layers plain or compressed;
 * - OCI image layout: `index.json` + `blobs/sha256/` (`skopeo copy … oci-archive:`,
 *   `podman save --format oci-archive`, `docker save` since 25), nested indexes resolved
 *   to this host's platform.
 *
 * Everything is verified: every blob named by digest must hash to it, every layer's
 * uncompressed stream must hash to its config diff_id. The archive is first staged under
 * the store's tmp/; on any error the layers this load added are removed again and no
 * image is indexed, so a bad archive leaves the store as it was. Configs and manifests are
 * kept byte for byte, so the image ID is the same as where the archive came from.
 */

import * as fs from "node:fs/promises";
import { createHash } from "node:crypto";
import process from "node:process";
import { InvalidDataError } from "../errors.ts";
import { decompress, detectCompression } from "./compression.ts";
import { hexDigest, isDigest } from "./digest.ts";
import { discardLayers } from "./gc.ts";
import { hostArchitecture } from "./import.ts";
import { type ByteSource, readFileChunks, type StoredLayer, storeLayerFromTar } from "./layer.ts";
import { CONFIG_MEDIA_TYPE, type ImageConfig, type Manifest, MANIFEST_MEDIA_TYPE } from "./oci.ts";
import { putImage } from "./put_image.ts";
import { parseReference, tagKey } from "./reference.ts";
import { storePaths } from "./store.ts";
import { readTar } from "./tar_reader.ts";
import { cleanEntryPath } from "./unpack.ts";

/** One loaded image. */
export interface LoadedImage {
  id: string;
  tags: string[];
}

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** The staged archive: files by their cleaned path, links resolved lexically. */
class Staged {
  links = new Map<string, string>();
  constructor(readonly dir: string) {}

  /** An archive path, cleaned, with the archive's own links followed. */
  resolve(name: string): string {
    let rel = cleanEntryPath(name).join("/");
    for (let i = 0; i < 16 && this.links.has(rel); i++) rel = this.links.get(rel)!;
    return rel;
  }

  /** The staged file for an archive path. */
  async path(name: string, what: string): Promise<string> {
    const p = `${this.dir}/files/${this.resolve(name)}`;
    const st = await fs.lstat(p).catch(() => null);
    if (!st?.isFile()) {
      throw new InvalidDataError(`load: ${what} ${name} is missing from the archive`);
    }
    return p;
  }

  async has(name: string): Promise<boolean> {
    return !!(await fs.lstat(`${this.dir}/files/${name}`).catch(() => null))?.isFile();
  }

  async json<T>(name: string, what: string): Promise<{ value: T; bytes: Uint8Array }> {
    const bytes = new Uint8Array(await fs.readFile(await this.path(name, what)));
    try {
      return { value: JSON.parse(new TextDecoder().decode(bytes)) as T, bytes };
    } catch (e) {
      throw new InvalidDataError(
        `load: ${what} ${name} is not valid JSON: ${(e as Error).message}`,
      );
    }
  }

  /** A blob by digest from blobs/sha256/, verified. */
  async blob(digest: string, what: string): Promise<Uint8Array> {
    if (!isDigest(digest)) {
      throw new InvalidDataError(`load: ${what} has an invalid digest ${digest}`);
    }
    const bytes = new Uint8Array(
      await fs.readFile(await this.path(`blobs/sha256/${digest.slice(7)}`, what)),
    );
    checkDigest(bytes, digest, what);
    return bytes;
  }
}

function checkDigest(bytes: Uint8Array, digest: string, what: string): void {
  const got = hexDigest(createHash("sha256").update(bytes).digest("hex"));
  if (got !== digest) {
    throw new InvalidDataError(`load: ${what} digest mismatch: expected ${digest}, got ${got}`);
  }
}

function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new InvalidDataError(`load: ${what} is not valid JSON: ${(e as Error).message}`);
  }
}

async function stage(source: ByteSource | undefined, dir: string): Promise<Staged> {
  const s = new Staged(dir);
  const raw = typeof source === "string"
    ? readFileChunks(source)
    : source === undefined
    ? process.stdin as AsyncIterable<Uint8Array>
    : source;
  const it = raw[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  async function* all() {
    if (!first.done) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  await fs.mkdir(`${dir}/files`, { recursive: true });
  for await (const e of readTar(decompress(detectCompression(head), all()))) {
    const h = e.header;
    const rel = cleanEntryPath(h.name).join("/");
    if (!rel) continue;
    if (h.type === "symlink" || h.type === "link") {
      const base = h.type === "symlink" && !h.linkname.startsWith("/")
        ? rel.split("/").slice(0, -1).join("/") + "/"
        : "";
      s.links.set(rel, cleanEntryPath(base + h.linkname).join("/"));
      continue;
    }
    if (h.type !== "file") continue;
    const p = `${dir}/files/${rel}`;
    await fs.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    const fh = await fs.open(p, "w");
    try {
      for await (const c of e.body()) {
        let off = 0;
        while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
  }
  return s;
}

/** `name:tag` keys from an OCI descriptor's annotations (none for a bare tag). */
function ociTags(ann: Record<string, string> | undefined): string[] {
  const name = ann?.["io.containerd.image.name"] ?? ann?.["org.opencontainers.image.ref.name"];
  if (!name) return [];
  try {
    const r = parseReference(name.replace(/^docker\.io\/library\//, ""));
    if (!name.includes(":") && !name.includes("/") && !ann?.["io.containerd.image.name"]) {
      return []; // a bare ref.name like "latest" names no repository
    }
    return r.digest ? [] : [tagKey(r)];
  } catch {
    return [];
  }
}

/**
 * Loads the images in an archive (a path, a byte stream, or undefined for stdin).
 *
 * @example
 * ```ts
 * for (const img of await loadImages(root, "apps.tar")) console.log(img.id, img.tags);
 * ```
 */
export async function loadImages(root: string, source?: ByteSource): Promise<LoadedImage[]> {
  const paths = storePaths(root);
  await fs.mkdir(paths.tmp, { recursive: true });
  const dir = await fs.mkdtemp(`${paths.tmp}/load-`);
  const added: string[] = [];
  const layerExists = (d: string) => fs.lstat(paths.layerJson(d)).then(() => true, () => false);
  // Each staged file is stored once and then moved into blobs/; an archive naming the same
  // file again (two images sharing a layer) reuses what it gave, checked against the
  // expectations of that entry.
  const done = new Map<string, StoredLayer>();
  const storeLayer = async (s: Staged, name: string, diffId: string, digest?: string) => {
    const key = s.resolve(name);
    const prev = done.get(key);
    if (prev) {
      if (prev.diffId !== diffId || (digest && prev.digest !== digest)) {
        throw new InvalidDataError(
          `load: layer ${diffId}: diff_id mismatch: expected ${diffId}, got ${prev.diffId}`,
        );
      }
      return prev;
    }
    const file = await s.path(name, "layer");
    const isNew = !(await layerExists(diffId));
    const l = await storeLayerFromTar(root, file, { diffId, digest }, { adopt: true })
      .catch((e) => {
        if (e instanceof InvalidDataError) {
          throw new InvalidDataError(`load: layer ${diffId}: ${e.message}`, { cause: e });
        }
        throw e;
      });
    done.set(key, l);
    if (isNew) added.push(diffId);
    return l;
  };
  try {
    const s = await stage(source, dir).catch((e) => {
      if (e instanceof InvalidDataError && !e.message.startsWith("load: ")) {
        throw new InvalidDataError(`load: ${e.message}`, { cause: e });
      }
      throw e;
    });
    const out: LoadedImage[] = [];
    const pending: { config: Uint8Array; manifest: Uint8Array; tags: string[] }[] = [];
    if (await s.has("manifest.json")) {
      const { value } = await s.json<unknown>("manifest.json", "manifest");
      if (!Array.isArray(value)) {
        throw new InvalidDataError("load: manifest.json is not a list of images");
      }
      for (const [i, entry] of value.entries()) {
        const e = entry as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
        if (typeof e?.Config !== "string" || !Array.isArray(e.Layers)) {
          throw new InvalidDataError(`load: manifest.json entry ${i} has no Config or Layers`);
        }
        const cfgPath = await s.path(e.Config, "config");
        const configBytes = new Uint8Array(await fs.readFile(cfgPath));
        const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(e.Config);
        if (named) checkDigest(configBytes, `sha256:${named[1]}`, `config ${e.Config}`);
        const config = parseJson<ImageConfig>(configBytes, `config ${e.Config}`);
        const diffIds = config?.rootfs?.diff_ids;
        if (!Array.isArray(diffIds) || diffIds.length !== e.Layers.length) {
          throw new InvalidDataError(
            `load: config ${e.Config} lists ${
              diffIds?.length ?? 0
            } layers, manifest.json ${e.Layers.length}`,
          );
        }
        const layers = [];
        for (const [j, lp] of (e.Layers as string[]).entries()) {
          const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(lp);
          const l = await storeLayer(
            s,
            lp,
            diffIds[j],
            blob ? `sha256:${blob[1]}` : undefined,
          );
          layers.push({ mediaType: l.mediaType, digest: l.digest, size: l.blobSize });
        }
        const configDigest = hexDigest(createHash("sha256").update(configBytes).digest("hex"));
        const manifest: Manifest = {
          schemaVersion: 2,
          mediaType: MANIFEST_MEDIA_TYPE,
          config: { mediaType: CONFIG_MEDIA_TYPE, digest: configDigest, size: configBytes.length },
          layers,
        };
        const tags = (Array.isArray(e.RepoTags) ? e.RepoTags : []).map((t: string) =>
          tagKey(String(t).replace(/^docker\.io\/library\//, ""))
        );
        pending.push({
          config: configBytes,
          manifest: new TextEncoder().encode(JSON.stringify(manifest)),
          tags,
        });
      }
    } else if (await s.has("index.json")) {
      const { value: index } = await s.json<{ manifests?: Desc[] }>("index.json", "index");
      if (!Array.isArray(index?.manifests)) {
        throw new InvalidDataError("load: index.json has no manifests list");
      }
      for (const d of index.manifests) {
        const m = await pickManifest(s, d);
        const manifest = parseJson<Manifest>(m.bytes, `manifest ${m.digest}`);
        if (!manifest?.config?.digest || !Array.isArray(manifest.layers)) {
          throw new InvalidDataError(`load: manifest ${m.digest} has no config or layers`);
        }
        const configBytes = await s.blob(manifest.config.digest, "config");
        const config = parseJson<ImageConfig>(configBytes, `config ${manifest.config.digest}`);
        const diffIds = config?.rootfs?.diff_ids;
        if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
          throw new InvalidDataError(
            `load: config ${manifest.config.digest} lists ${
              diffIds?.length ?? 0
            } layers, its manifest ${manifest.layers.length}`,
          );
        }
        for (const [j, l] of manifest.layers.entries()) {
          if (!isDigest(l.digest)) {
            throw new InvalidDataError(`load: layer digest ${l.digest} is invalid`);
          }
          await storeLayer(
            s,
            `blobs/sha256/${l.digest.slice(7)}`,
            diffIds[j],
            l.digest,
          );
        }
        pending.push({ config: configBytes, manifest: m.bytes, tags: ociTags(d.annotations) });
      }
    } else {
      throw new InvalidDataError(
        "load: not an image archive (neither manifest.json nor index.json is in it)",
      );
    }
    // All verified: index the images.
    for (const p of pending) {
      const { id } = await putImage(root, p.config, p.manifest, p.tags);
      out.push({ id, tags: p.tags });
    }
    return out;
  } catch (e) {
    await discardLayers(root, added).catch(() => {});
    throw e;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

interface Desc {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

/** Follows nested indexes down to one image manifest for this host's platform. */
async function pickManifest(
  s: Staged,
  d: Desc,
  depth = 0,
): Promise<{ digest: string; bytes: Uint8Array }> {
  const bytes = await s.blob(d.digest, "manifest");
  const doc = parseJson<{ mediaType?: string; manifests?: Desc[] }>(bytes, `manifest ${d.digest}`);
  const type = d.mediaType ?? doc.mediaType;
  if (type === OCI_INDEX || type === DOCKER_LIST || Array.isArray(doc.manifests)) {
    if (depth > 4) throw new InvalidDataError("load: image indexes nested too deeply");
    const list = doc.manifests ?? [];
    const arch = hostArchitecture();
    const pick = list.find((m) =>
      m.platform?.os === "linux" && m.platform?.architecture === arch
    ) ??
      list.find((m) => !m.platform || m.platform.os === undefined);
    if (!pick) throw new InvalidDataError(`load: no image for linux/${arch} in index ${d.digest}`);
    return await pickManifest(s, pick, depth + 1);
  }
  if (type && type !== MANIFEST_MEDIA_TYPE && type !== DOCKER_MANIFEST) {
    throw new InvalidDataError(`load: unsupported manifest type ${type}`);
  }
  return { digest: d.digest, bytes };
}
