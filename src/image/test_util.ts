/** Helpers shared by the image tests (not part of the API). */

import * as fs from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { makeTempDir } from "../../ffi/fs.ts";
import { deferCleanup } from "../../test/harness.ts";
import { type TarWriteEntry, writeTar } from "./tar_writer.ts";

/** A fresh temp dir for one test; removed when the test ends, passed or failed. */
export async function tempDir(prefix = "hako-image-test-"): Promise<string> {
  const d = await makeTempDir({ prefix });
  deferCleanup(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Builds a tar in memory from entries. */
export async function tarBytes(entries: TarWriteEntry[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of writeTar(entries)) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** Every path under `dir` (relative, sorted) with its type and size: a tree snapshot. */
export async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const n of (await fs.readdir(rel ? `${dir}/${rel}` : dir)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await fs.lstat(`${dir}/${r}`);
      out.push(`${r} ${st.isDirectory() ? "d" : st.size}`);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk("");
  return out;
}

/** Reads an xattr without following symlinks (python3; null when absent). */
export function getXattr(path: string, name: string): Uint8Array | null {
  const hex = execFileSync("python3", [
    "-c",
    "import os,sys\ntry: print(os.getxattr(sys.argv[1],sys.argv[2],follow_symlinks=False).hex())\nexcept OSError: print('none')",
    path,
    name,
  ], { encoding: "utf8" }).trim();
  if (hex === "none") return null;
  return new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
}

/** True when a command is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
