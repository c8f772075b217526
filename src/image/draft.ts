/**
 * An image being made (by commit or build): a config and its layer blobs, grown one layer
 * or one config change at a time, written to the store only when complete. Nothing is
 * indexed before `saveDraft`, so an interrupted commit or build leaves no partial image.
 */

import { InvalidDataError } from "../errors.ts";
import { hostArchitecture } from "./import.ts";
import type { ContainerConfig, History, ImageConfig, Manifest } from "./oci.ts";
import { resolveImage } from "./resolve.ts";
import { readJsonBlob, storePaths } from "./store.ts";
import type { LayerBlob } from "./write_image.ts";
import { writeImage } from "./write_image.ts";

/** An image under construction. */
export interface ImageDraft {
  config: ImageConfig;
  /** One per `config.rootfs.diff_ids` entry, same order. */
  layers: LayerBlob[];
  /** The image ID it started from, when it started from a stored image. */
  baseId?: string;
}

/** A layer as a draft needs it. */
export interface DraftLayer extends LayerBlob {
  diffId: string;
}

/** A copy of a draft (configs are plain JSON). */
export function cloneDraft(d: ImageDraft): ImageDraft {
  return {
    config: structuredClone(d.config),
    layers: d.layers.map((l) => ({ ...l })),
    baseId: d.baseId,
  };
}

/** An empty draft (`FROM scratch`). */
export function scratchDraft(): ImageDraft {
  return {
    config: {
      architecture: hostArchitecture(),
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    },
    layers: [],
  };
}

/** A draft starting from an image in the store (by reference or ID). */
export async function draftFromImage(root: string, ref: string): Promise<ImageDraft> {
  const img = await resolveImage(root, ref);
  const manifest = await readJsonBlob<Manifest>(root, img.manifestDigest);
  if (manifest.layers.length !== img.config.rootfs.diff_ids.length) {
    throw new InvalidDataError(
      `image ${ref}: its manifest lists ${manifest.layers.length} layers, its config ${img.config.rootfs.diff_ids.length}`,
    );
  }
  return {
    baseId: img.id,
    config: structuredClone(img.config),
    layers: manifest.layers.map((l) => ({
      digest: l.digest,
      blobSize: l.size,
      mediaType: l.mediaType,
    })),
  };
}

/** The layer dirs of a draft, topmost first (as overlayfs lowerdir lists them). */
export function draftLayerDirs(root: string, d: ImageDraft): string[] {
  const p = storePaths(root);
  return d.config.rootfs.diff_ids.map((id) => p.layerDiff(id)).reverse();
}

/** Appends a layer and its history entry. */
export function addLayer(d: ImageDraft, layer: DraftLayer, history: History): void {
  d.config.rootfs.diff_ids.push(layer.diffId);
  d.layers.push({ digest: layer.digest, blobSize: layer.blobSize, mediaType: layer.mediaType });
  (d.config.history ??= []).push(history);
}

/** Records a step that changed only the config (Docker's `empty_layer`). */
export function addEmptyStep(d: ImageDraft, history: History): void {
  (d.config.history ??= []).push({ ...history, empty_layer: true });
}

/** The runtime config of a draft, created when missing. */
export function runConfig(d: ImageDraft): ContainerConfig {
  return (d.config.config ??= {});
}

/**
 * Writes the draft as an image and points `tags` (`name:tag` keys) at it. `created` becomes
 * the config's creation time.
 */
export async function saveDraft(
  root: string,
  d: ImageDraft,
  tags: string[],
  created: string,
): Promise<{ id: string; manifestDigest: string }> {
  const config: ImageConfig = { ...d.config, created };
  return await writeImage(root, orderConfig(config), d.layers, tags);
}

/** The config with its keys in the order Docker writes them, so digests are stable. */
function orderConfig(c: ImageConfig): ImageConfig {
  const { created, author, architecture, os, variant, config, rootfs, history, ...rest } = c;
  const out: Record<string, unknown> = {};
  if (created !== undefined) out.created = created;
  if (author !== undefined) out.author = author;
  out.architecture = architecture;
  if (variant !== undefined) out.variant = variant;
  out.os = os;
  if (config !== undefined) out.config = config;
  out.rootfs = rootfs;
  if (history !== undefined) out.history = history;
  return { ...out, ...rest } as ImageConfig;
}
