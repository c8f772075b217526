/**
 * `hako save`: images as one tar that is both a docker-archive and an OCI image layout, as
 * `docker save` writes since Docker 25:
 *
 * ```
 * blobs/sha256/<hex>   configs, layer blobs (as stored), manifests — each once
 * manifest.json        [{"Config": "blobs/sha256/…", "RepoTags": [...], "Layers": [...]}]
 * index.json           OCI index: one manifest descriptor per tag (ref.name = name:tag)
 * oci-layout           {"imageLayoutVersion": "1.0.0"}
 * ```
 *
 * `podman load`, `skopeo copy docker-archive:` read the first view; umoci, `skopeo copy
 * oci-archive:` and containerd the second. Entries are written in a fixed order with
 * mtime 0, so the same images give the same archive.
 */

import { NotFoundError } from "../errors.ts";
import { digestHex } from "./digest.ts";
import { readFileChunks } from "./layer.ts";
import type { Manifest } from "./oci.ts";
import { parseReference } from "./reference.ts";
import { findImageId } from "./resolve.ts";
import { readImageIndex, readJsonBlob, readRepositories, storePaths } from "./store.ts";
import { type TarWriteEntry, writeTar } from "./tar_writer.ts";
import * as fs from "node:fs/promises";

/** The OCI index media type. */
export const INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";

interface SavedImage {
  id: string;
  manifestDigest: string;
  manifest: Manifest;
  tags: string[];
}

/** Resolves the references to images (grouping tags of the same image). */
async function collect(root: string, refs: string[]): Promise<SavedImage[]> {
  const [index, repos] = await Promise.all([readImageIndex(root), readRepositories(root)]);
  const out = new Map<string, SavedImage>();
  for (const ref of refs) {
    const id = await findImageId(root, ref);
    if (id === null) throw new NotFoundError(`no such image: ${ref}`);
    const manifestDigest = index[id];
    let tag: string | undefined;
    try {
      const r = parseReference(ref);
      if (r.tag && repos[`${r.name}:${r.tag}`] === manifestDigest) tag = `${r.name}:${r.tag}`;
    } catch { /* an ID */ }
    let img = out.get(id);
    if (!img) {
      const manifest = await readJsonBlob<Manifest>(root, manifestDigest);
      img = { id, manifestDigest, manifest, tags: [] };
      out.set(id, img);
    }
    if (tag && !img.tags.includes(tag)) img.tags.push(tag);
  }
  return [...out.values()];
}

function jsonEntry(name: string, value: unknown): TarWriteEntry {
  return { header: { name, type: "file", mode: 0o644 }, data: JSON.stringify(value) };
}

/**
 * Streams the archive of `refs` (tags, IDs or ID prefixes). A tag reference saves that
 * tag; an ID saves the image untagged.
 *
 * @example
 * ```ts
 * for await (const chunk of saveImages(root, ["webapp:1", "webapp:2"])) out.write(chunk);
 * ```
 */
export async function saveImages(
  root: string,
  refs: string[],
): Promise<AsyncGenerator<Uint8Array>> {
  const images = await collect(root, refs);
  const paths = storePaths(root);
  // Check every blob exists before the first byte goes out.
  const blobs: string[] = [];
  for (const img of images) {
    for (
      const d of [
        img.manifest.config.digest,
        ...img.manifest.layers.map((l) => l.digest),
        img.manifestDigest,
      ]
    ) {
      if (blobs.includes(d)) continue;
      await fs.lstat(paths.blob(d)).catch(() => {
        throw new NotFoundError(`blob ${d} of image ${img.id} is missing from the image store`);
      });
      blobs.push(d);
    }
  }
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    yield { header: { name: "blobs", type: "directory", mode: 0o755 } };
    yield { header: { name: "blobs/sha256", type: "directory", mode: 0o755 } };
    for (const d of blobs) {
      const st = await fs.stat(paths.blob(d));
      yield {
        header: { name: `blobs/sha256/${digestHex(d)}`, type: "file", mode: 0o644, size: st.size },
        data: readFileChunks(paths.blob(d)),
      };
    }
    const manifests = [];
    for (const img of images) {
      const size = (await fs.stat(paths.blob(img.manifestDigest))).size;
      const desc = { mediaType: img.manifest.mediaType, digest: img.manifestDigest, size };
      if (img.tags.length === 0) manifests.push(desc);
      // ref.name is the whole `name:tag` (the OCI grammar allows it, skopeo writes it so),
      // not Docker's bare tag: two images tagged "1" would make the layout ambiguous.
      for (const t of img.tags) {
        manifests.push({
          ...desc,
          annotations: { "io.containerd.image.name": t, "org.opencontainers.image.ref.name": t },
        });
      }
    }
    yield jsonEntry("index.json", { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests });
    yield jsonEntry(
      "manifest.json",
      images.map((img) => ({
        Config: `blobs/sha256/${digestHex(img.manifest.config.digest)}`,
        RepoTags: img.tags.length ? img.tags : null,
        Layers: img.manifest.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      })),
    );
    yield jsonEntry("oci-layout", { imageLayoutVersion: "1.0.0" });
  }
  return writeTar(entries());
}
