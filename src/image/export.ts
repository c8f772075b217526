/**
 * `hako export`: a container's file system as one flat tar, the image layers and the
 * container's own layer merged as overlayfs shows them (whiteouts and opaque directories
 * applied), read from the layer dirs without mounting anything. Packed by pack.ts's rules,
 * so `hako import` of the result gives back the same tree in one layer.
 */

import { LayeredTree } from "./layered.ts";
import { tarEntries } from "./pack.ts";
import { writeTar } from "./tar_writer.ts";

/**
 * Streams the merged tree of `layers` (topmost first, e.g. [upper, ...image layers]) as an
 * uncompressed tar.
 *
 * @example
 * ```ts
 * for await (const chunk of exportLayers([upper, ...lowers])) out.write(chunk);
 * ```
 */
export function exportLayers(layers: string[]): AsyncGenerator<Uint8Array> {
  return writeTar(tarEntries(new LayeredTree(layers).walk("")));
}
