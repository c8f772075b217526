/**
 * The two syscalls unpacking needs that no portable fs API offers: mknod(2) (devices,
 * FIFOs, overlay whiteouts) and lsetxattr(2) (xattrs, overlay opaque dirs). They come from
 * ffi/mod.ts once it exports them; until then this is the one place with a stopgap.
 */

import { execFileSync } from "node:child_process";

/** File-type bits for mknod's mode. */
export const S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFIFO = 0o010000;

interface Sys {
  mknod(path: string, mode: number, dev: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array): void;
}

const ffiPath = "../../ffi/mod.ts";
// deno-lint-ignore no-explicit-any
let ffi: any = null;
try {
  ffi = await import(ffiPath);
  if (typeof ffi.mknod !== "function" || typeof ffi.lsetxattr !== "function") ffi = null;
} catch {
  ffi = null;
}

/** Linux `makedev`: the dev_t for a major/minor pair. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) |
    ((major & ~0xfff) * 2 ** 32);
}

const stopgap: Sys = {
  mknod(path, mode, dev) {
    const kind = (mode & 0o170000) === S_IFIFO ? "p" : (mode & 0o170000) === S_IFBLK ? "b" : "c";
    const major = Math.floor(dev / 256) & 0xfff, minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
    const args = ["-m", (mode & 0o7777).toString(8), path, kind];
    if (kind !== "p") args.push(String(major), String(minor));
    execFileSync("mknod", args, { stdio: ["ignore", "ignore", "pipe"] });
  },
  lsetxattr(path, name, value) {
    execFileSync("python3", [
      "-c",
      "import os,sys;os.setxattr(sys.argv[1],sys.argv[2],bytes.fromhex(sys.argv[3]),follow_symlinks=False)",
      path,
      name,
      Array.from(value, (b) => b.toString(16).padStart(2, "0")).join(""),
    ], { stdio: ["ignore", "ignore", "pipe"] });
  },
};

/** The syscalls unpack uses: ffi's when available, a stopgap otherwise. */
export const sys: Sys = ffi ?? stopgap;
