/**
 * The build context: the directory a build may copy from, less what `.dockerignore`
 * excludes. Source paths are resolved inside it (a `..` or a symlink can never reach
 * outside: "forbidden path outside the build context"), wildcards expand against it.
 */

import * as fs from "node:fs/promises";
import { InvalidDataError, UsageError } from "../errors.ts";
import { components, type Found, LayeredTree } from "../image/layered.ts";
import type { WalkItem } from "../image/pack.ts";
import { globToRegExp, hasGlob, IgnoreRules } from "./ignore.ts";

/** Something COPY can read from: the context, or a stage's or image's file system. */
export interface SourceTree {
  /** How errors name it ("build context", "stage builder"). */
  readonly label: string;
  lstat(rel: string): Promise<Found | null>;
  readdir(rel: string): Promise<string[]>;
  /** Resolves a path inside the tree (symlinks followed inside it). */
  resolve(path: string, followLast?: boolean): Promise<string>;
  /** Everything under `rel`, named `prefix/...`, depth first in bytewise order. */
  walk(rel: string, prefix: string): AsyncGenerator<WalkItem>;
}

/** A stage's or image's layers as a source tree. */
export class LayerSource implements SourceTree {
  readonly tree: LayeredTree;
  constructor(layers: string[], readonly label: string) {
    this.tree = new LayeredTree(layers);
  }
  lstat(rel: string) {
    return this.tree.lstat(rel);
  }
  readdir(rel: string) {
    return this.tree.readdir(rel);
  }
  resolve(path: string, followLast = true) {
    return this.tree.resolve(path, followLast);
  }
  walk(rel: string, prefix: string) {
    return this.tree.walk(rel, prefix);
  }
}

/** The build context directory with its `.dockerignore`. */
export class BuildContext implements SourceTree {
  readonly label = "build context";
  readonly tree: LayeredTree;

  private constructor(readonly dir: string, readonly ignore: IgnoreRules) {
    this.tree = new LayeredTree([dir]);
  }

  /** Opens a context directory; UsageError when it is not one. */
  static async open(dir: string): Promise<BuildContext> {
    const st = await fs.stat(dir).catch(() => null);
    if (!st?.isDirectory()) {
      throw new UsageError(`unable to prepare context: path "${dir}" not found or not a directory`);
    }
    const text = await fs.readFile(`${dir}/.dockerignore`, "utf8").catch(() => "");
    return new BuildContext(dir.replace(/\/+$/, "") || "/", new IgnoreRules(text));
  }

  async lstat(rel: string): Promise<Found | null> {
    const r = components(rel).join("/");
    if (r && this.ignore.ignored(r)) return null;
    return await this.tree.lstat(r);
  }

  async readdir(rel: string): Promise<string[]> {
    const r = components(rel).join("/");
    const names = await this.tree.readdir(r);
    return names.filter((n) => {
      const p = r ? `${r}/${n}` : n;
      return !this.ignore.ignored(p) || this.ignore.mayIncludeBelow(p);
    });
  }

  resolve(path: string, followLast = true): Promise<string> {
    return this.tree.resolve(path, followLast);
  }

  async *walk(rel: string, prefix: string): AsyncGenerator<WalkItem> {
    const r = components(rel).join("/");
    // A directory excluded by a pattern, but with an exception below it, is written only
    // once something below it is.
    let pendingDirs: WalkItem[] = [];
    for await (const item of this.tree.walk(r, prefix)) {
      const sub = prefix ? item.rel.slice(prefix.length + 1) : item.rel;
      const ctxRel = r ? `${r}/${sub}` : sub;
      pendingDirs = pendingDirs.filter((d) => item.rel.startsWith(d.rel + "/"));
      if (this.ignore.ignored(ctxRel)) {
        if (item.st.isDirectory() && this.ignore.mayIncludeBelow(ctxRel)) pendingDirs.push(item);
        continue;
      }
      yield* pendingDirs;
      pendingDirs = [];
      yield item;
    }
  }

  /**
   * The newest mtime (seconds) of the Dockerfile and every file the context offers: the
   * build's source date when SOURCE_DATE_EPOCH is not given (reproducible-builds.org's
   * "last modification of the source").
   */
  async newestMtime(dockerfile?: string): Promise<number> {
    let newest = 0;
    if (dockerfile) {
      const st = await fs.stat(dockerfile).catch(() => null);
      if (st) newest = Math.floor(st.mtimeMs / 1000);
    }
    for await (const item of this.walk("", "")) {
      newest = Math.max(newest, Math.floor(item.st.mtimeMs / 1000));
    }
    return newest;
  }
}

/** True when `..` in a path climbs above its root. */
export function escapesRoot(path: string): boolean {
  let depth = 0;
  for (const c of path.split("/")) {
    if (c === "..") depth--;
    else if (c !== "" && c !== ".") depth++;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * Expands one COPY source (wildcards allowed) in a source tree: the matching relative
 * paths, sorted. Throws when a path climbs out of the context or nothing matches.
 */
export async function matchSources(tree: SourceTree, src: string, what: string): Promise<string[]> {
  const isContext = tree instanceof BuildContext;
  if (isContext && escapesRoot(src)) {
    throw new InvalidDataError(`${what}: forbidden path outside the build context: ${src}`);
  }
  const comps = components(src);
  if (!hasGlob(comps.join("/"))) {
    const rel = await tree.resolve(comps.join("/"));
    if (comps.length && !(await tree.lstat(rel))) {
      throw new InvalidDataError(
        `${what}: file not found in ${tree.label}${
          isContext ? " or excluded by .dockerignore" : ""
        }: ${src}`,
      );
    }
    return [rel];
  }
  // Wildcards: walk component by component.
  let cands = [""];
  for (const c of comps) {
    const next: string[] = [];
    const re = hasGlob(c) ? globToRegExp(c) : null;
    for (const base of cands) {
      if (re) {
        for (const n of await tree.readdir(base)) {
          if (re.test(n)) next.push(base ? `${base}/${n}` : n);
        }
      } else {
        const rel = base ? `${base}/${c}` : c;
        if (await tree.lstat(rel)) next.push(rel);
      }
    }
    cands = next;
  }
  if (cands.length === 0) {
    throw new InvalidDataError(`${what}: no source files were specified: nothing matches ${src}`);
  }
  return cands.sort();
}
