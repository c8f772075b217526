/**
 * The image side of hako: a content-addressed OCI image store.
 *
 * ```
 * <root>/blobs/sha256/<hex>              layer tars (as given), configs, manifests
 * <root>/layers/<diffid-hex>/diff/       each layer unpacked once (overlayfs lower dir)
 * <root>/layers/<diffid-hex>/layer.json  {diffId, digest, size, mediaType}
 * <root>/repositories.json               {"name:tag": "sha256:<manifest digest>"}
 * <root>/images.json                     {"sha256:<image id>": "sha256:<manifest digest>"}
 * <root>/buildcache/<key>.json           build steps → the layer each made (src/build)
 * ```
 *
 * Layers hako makes (commit, build) are packed by pack.ts's documented rules (sorted,
 * numeric owners, mtimes clamped to the source date, whiteouts as `.wh.` entries) and
 * stored gzip-compressed; save writes a docker-archive that is also an OCI layout; load
 * reads both and verifies every digest.
 *
 * `resolveImage` is the container-start hot path; import it from "./resolve.ts" directly
 * to avoid loading the import/unpack code (and node:fs) at all.
 *
 * @example
 * ```ts
 * import { importImage, resolveImage } from "./src/image/mod.ts";
 * await importImage("/var/lib/hako/images", "rootfs.tar.gz", "mybox");
 * const img = await resolveImage("/var/lib/hako/images", "mybox");
 * ```
 * @module
 */

export { formatReference, parseReference, type Reference, tagKey } from "./reference.ts";
export { type Digest, digestHex, isDigest } from "./digest.ts";
export {
  CONFIG_MEDIA_TYPE,
  type ContainerConfig,
  DEFAULT_PATH_ENV,
  type Descriptor,
  type History,
  type ImageConfig,
  type Manifest,
  MANIFEST_MEDIA_TYPE,
} from "./oci.ts";
export { type LayerRecord, readImageIndex, readRepositories, storePaths } from "./store.ts";
export { findImageId, type Image, resolveImage } from "./resolve.ts";
export { hostArchitecture, importImage, type ImportOptions } from "./import.ts";
export {
  type ByteSource,
  type LayerExpectations,
  type StoredLayer,
  storeLayerFromTar,
} from "./layer.ts";
export { type LayerBlob, writeImage } from "./write_image.ts";
export { type ImageSummary, listImages } from "./list.ts";
export { tagImage } from "./tag.ts";
export { removeImage, type RemoveOptions, type RemoveResult } from "./remove.ts";
export { packDirectory } from "./pack.ts";
export { readTar, type TarEntry, type TarHeader } from "./tar_reader.ts";
export { type TarWriteEntry, writeTar } from "./tar_writer.ts";
export { cleanEntryPath, unpackEntries } from "./unpack.ts";
export { type Compression, detectCompression } from "./compression.ts";
export { withStoreLock } from "./lock.ts";
export { type Change, type ChangeSource, containerChanges, packChanges } from "./changeset.ts";
export { LayeredTree } from "./layered.ts";
export { type HistoryRow, imageHistory } from "./history.ts";
export { type ImageTree, imageTree, type TreeNode } from "./tree.ts";
export { saveImages } from "./save.ts";
export { type LoadedImage, loadImages } from "./load.ts";
export { exportLayers } from "./export.ts";
export { pruneBuildCache, pruneImages, type StoreUsage, storeUsage } from "./gc.ts";
