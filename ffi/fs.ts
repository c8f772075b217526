/**
 * Portable file-system calls for the hot path: Deno's own API under Deno (importing
 * `node:fs` costs Deno ~27 ms at start-up), `node:fs/promises` under Bun (native there).
 * Nothing outside ffi/ needs to know which runtime it is on.
 */

// deno-lint-ignore no-explicit-any
const isBun = typeof (globalThis as any).Bun !== "undefined";
const nodeFsName = "node:fs/promises";
// deno-lint-ignore no-explicit-any
const nfs: any = isBun ? await import(nodeFsName) : null;

/** What `stat`/`lstat` report. */
export interface FileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  ino: number;
  nlink: number;
}

/** True when the error means "no such file or directory". */
export function isNotFound(e: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const err = e as any;
  return err?.code === "ENOENT" || (!isBun && err instanceof Deno.errors.NotFound);
}

/** True when the error means "already exists". */
export function isExists(e: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const err = e as any;
  return err?.code === "EEXIST" || (!isBun && err instanceof Deno.errors.AlreadyExists);
}

/** Reads a whole file. */
export function readFile(path: string): Promise<Uint8Array> {
  return isBun
    ? nfs.readFile(path).then((b: Uint8Array) => new Uint8Array(b))
    : Deno.readFile(path);
}

/** Reads a whole file as UTF-8. */
export function readText(path: string): Promise<string> {
  return isBun ? nfs.readFile(path, "utf8") : Deno.readTextFile(path);
}

/** Reads and parses a JSON file. */
export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readText(path)) as T;
}

/** Reads a JSON file, or returns `fallback` when it does not exist. */
export async function readJsonOr<T>(path: string, fallback: T): Promise<T> {
  try {
    return await readJson<T>(path);
  } catch (e) {
    if (isNotFound(e)) return fallback;
    throw e;
  }
}

/** Writes a whole file (created with `mode`, default 0644). */
export async function writeFile(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; append?: boolean } = {},
): Promise<void> {
  const mode = opts.mode ?? 0o644;
  if (isBun) {
    await nfs.writeFile(path, data, { mode, flag: opts.append ? "a" : "w" });
  } else if (typeof data === "string") {
    await Deno.writeTextFile(path, data, { mode, append: opts.append });
  } else {
    await Deno.writeFile(path, data, { mode, append: opts.append });
  }
}

let tmpCounter = 0;

/**
 * Replaces `path` atomically: readers see the old content or the new, never a partial
 * file (write to a sibling temporary name, then rename(2) over the target).
 */
export async function writeAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const pid = isBun ? (globalThis as any).process.pid : Deno.pid;
  const tmp = `${path}.tmp-${pid}-${++tmpCounter}`;
  try {
    await writeFile(tmp, data, { mode });
    await rename(tmp, path);
  } catch (e) {
    await remove(tmp).catch(() => {});
    throw e;
  }
}

/** Writes JSON atomically (pretty-printed). */
export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): Promise<void> {
  return writeAtomic(path, JSON.stringify(value, null, 2) + "\n", mode);
}

/** Creates a directory (with parents when `recursive`, the default). */
export async function mkdir(path: string, opts: { recursive?: boolean; mode?: number } = {}) {
  const recursive = opts.recursive ?? true;
  if (isBun) await nfs.mkdir(path, { recursive, mode: opts.mode ?? 0o755 });
  else await Deno.mkdir(path, { recursive, mode: opts.mode ?? 0o755 });
}

/** Removes a file or directory tree; a missing path is not an error. */
export async function remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
  try {
    if (isBun) await nfs.rm(path, { recursive: opts.recursive ?? false, force: true });
    else await Deno.remove(path, { recursive: opts.recursive ?? false });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** Names in a directory (no `.`/`..`); a missing directory gives an empty list. */
export async function readDir(path: string): Promise<string[]> {
  try {
    if (isBun) return await nfs.readdir(path);
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) names.push(e.name);
    return names;
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** Names of the subdirectories of `dir` (from the directory entries' types; no stat calls). */
export async function readSubdirs(path: string): Promise<string[]> {
  try {
    if (isBun) {
      const ents = await nfs.readdir(path, { withFileTypes: true });
      // deno-lint-ignore no-explicit-any
      return ents.filter((e: any) => e.isDirectory()).map((e: any) => e.name);
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) if (e.isDirectory) names.push(e.name);
    return names;
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

// deno-lint-ignore no-explicit-any
function toInfo(s: any): FileInfo {
  if (isBun) {
    return {
      isFile: s.isFile(),
      isDirectory: s.isDirectory(),
      isSymlink: s.isSymbolicLink(),
      size: Number(s.size),
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      mtimeMs: s.mtimeMs,
      ino: Number(s.ino),
      nlink: s.nlink,
    };
  }
  return {
    isFile: s.isFile,
    isDirectory: s.isDirectory,
    isSymlink: s.isSymlink,
    size: s.size,
    mode: s.mode ?? 0,
    uid: s.uid ?? 0,
    gid: s.gid ?? 0,
    mtimeMs: s.mtime?.getTime() ?? 0,
    ino: s.ino ?? 0,
    nlink: s.nlink ?? 1,
  };
}

/** stat(2), following symlinks; null when the path does not exist. */
export async function stat(path: string): Promise<FileInfo | null> {
  try {
    return toInfo(isBun ? await nfs.stat(path) : await Deno.stat(path));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** lstat(2); null when the path does not exist. */
export async function lstat(path: string): Promise<FileInfo | null> {
  try {
    return toInfo(isBun ? await nfs.lstat(path) : await Deno.lstat(path));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** True when the path exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  return (await lstat(path)) !== null;
}

/** rename(2). */
export function rename(from: string, to: string): Promise<void> {
  return isBun ? nfs.rename(from, to) : Deno.rename(from, to);
}

/** symlink(2). */
export function symlink(target: string, path: string): Promise<void> {
  return isBun ? nfs.symlink(target, path) : Deno.symlink(target, path);
}

/** readlink(2). */
export function readLink(path: string): Promise<string> {
  return isBun ? nfs.readlink(path) : Deno.readLink(path);
}

/** chmod(2). */
export function chmod(path: string, mode: number): Promise<void> {
  return isBun ? nfs.chmod(path, mode) : Deno.chmod(path, mode);
}

/** chown(2). */
export function chown(path: string, uid: number, gid: number): Promise<void> {
  return isBun ? nfs.chown(path, uid, gid) : Deno.chown(path, uid, gid);
}

/** Creates a unique temporary directory under `dir` (default the system's). */
export function makeTempDir(opts: { dir?: string; prefix?: string } = {}): Promise<string> {
  if (!isBun) return Deno.makeTempDir(opts);
  const base = opts.dir ?? "/tmp";
  return nfs.mkdtemp(`${base}/${opts.prefix ?? "tmp-"}`);
}
