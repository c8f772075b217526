/** `hako tag`: points a `name:tag` at an existing image. */

import { writeJsonAtomic } from "../../ffi/fs.ts";
import { NotFoundError } from "../errors.ts";
import { withStoreLock } from "./lock.ts";
import { tagKey } from "./reference.ts";
import { findImageId } from "./resolve.ts";
import { readImageIndex, readRepositories, storePaths } from "./store.ts";
import { sortKeys } from "./write_image.ts";

/**
 * Tags the image `src` (reference, ID or ID prefix) as `ref`, moving the tag if it exists.
 *
 * @example
 * ```ts
 * await tagImage("/var/lib/hako/images", "mybox", "mybox:v2");
 * ```
 */
export async function tagImage(root: string, src: string, ref: string): Promise<void> {
  const key = tagKey(ref);
  await withStoreLock(root, async () => {
    const id = await findImageId(root, src);
    if (id === null) throw new NotFoundError(`no such image: ${src}`);
    const index = await readImageIndex(root);
    const repos = await readRepositories(root);
    repos[key] = index[id];
    await writeJsonAtomic(storePaths(root).repositories, sortKeys(repos));
  });
}
