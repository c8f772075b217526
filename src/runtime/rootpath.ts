/**
 * Resolves a path inside a container's root as the container would see it, before the root
 * is mounted: symlinks are followed with "/" meaning the container's root, and `..` never
 * climbs above it (as containerd's fs.RootPath and securejoin do). The root may be a stack
 * of overlay layers: the topmost layer holding a name wins, and an overlay whiteout (a
 * character device 0:0) hides the name.
 */

import { readLink } from "../../ffi/fs.ts";
import { lstatSync } from "../../ffi/kfs.ts";

const MAX_LINKS = 40;

/** Finds which layer (topmost first) holds `rel` (no symlinks followed); null when none does. */
export function lookup(layers: string[], rel: string) {
  for (const dir of layers) {
    const st = lstatSync(`${dir}/${rel}`);
    if (!st) continue;
    // An overlay whiteout is a character device 0/0; it hides the name in every layer below.
    const type = st.mode & 0o170000;
    if (type === 0o020000 && st.rdevMajor === 0 && st.rdevMinor === 0) return null;
    return { dir, type, isSymlink: type === 0o120000, isDirectory: type === 0o040000 };
  }
  return null;
}

/**
 * Returns `path` resolved inside the root as a relative path with no symlinks in it
 * ("" is the root itself). Components that do not exist yet are kept as given.
 *
 * @example
 * ```ts
 * // with a layer holding "etc -> /usr/etc": "/etc/passwd" → "usr/etc/passwd"
 * const rel = await resolveInRoot(["/layers/a"], "/etc/passwd");
 * ```
 */
export async function resolveInRoot(layers: string[], path: string): Promise<string> {
  const out: string[] = [];
  const todo = path.split("/").filter((c) => c && c !== ".");
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === "..") {
      out.pop();
      continue;
    }
    const rel = [...out, c].join("/");
    const found = lookup(layers, rel);
    if (found?.isSymlink) {
      if (++links > MAX_LINKS) {
        throw new Error(`resolve ${path}: too many levels of symbolic links`);
      }
      const target = await readLink(`${found.dir}/${rel}`);
      if (target.startsWith("/")) out.length = 0;
      todo.unshift(...target.split("/").filter((x) => x && x !== "."));
      continue;
    }
    out.push(c);
  }
  return out.join("/");
}
