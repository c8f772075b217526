/**
 * `--user` as Docker reads it: "name", "uid", "name:group", "uid:gid", resolved against the
 * image's own /etc/passwd and /etc/group (never the host's), with supplementary groups
 * and HOME taken from them.
 */

import { readText } from "../../ffi/fs.ts";
import { UsageError } from "../errors.ts";
import { resolveInRoot } from "../runtime/rootpath.ts";

/** The resolved identity of the container process. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

async function readInRoot(layers: string[], path: string): Promise<string> {
  const rel = await resolveInRoot(layers, path);
  for (const d of layers) {
    try {
      return await readText(`${d}/${rel}`);
    } catch { /* not in this layer */ }
  }
  return "";
}

function table(text: string): string[][] {
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

/** Resolves `spec` ("" = root) inside the layered root `layers` (topmost first). */
export async function resolveUser(layers: string[], spec: string): Promise<ResolvedUser> {
  const [u = "", g] = spec.split(":");
  const [p, gr] = await Promise.all([
    readInRoot(layers, "/etc/passwd"),
    readInRoot(layers, "/etc/group"),
  ]);
  const passwd = table(p), groups = table(gr);
  let uid: number, gid: number | undefined, home = "/", name: string | undefined;
  if (u === "" || /^\d+$/.test(u)) {
    uid = Number(u || 0);
    const row = passwd.find((r) => Number(r[2]) === uid);
    if (row) [name, gid, home] = [row[0], Number(row[3]), row[5] || "/"];
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw new UsageError(`unable to find user ${u}: no matching entries in passwd file`);
    [name, uid, gid, home] = [row[0], Number(row[2]), Number(row[3]), row[5] || "/"];
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = groups.find((r) => r[0] === g);
      if (!row) {
        throw new UsageError(`unable to find group ${g}: no matching entries in group file`);
      }
      gid = Number(row[2]);
    }
  }
  gid ??= 0;
  const extra = g === undefined && name
    ? groups.filter((r) => (r[3] ?? "").split(",").includes(name!)).map((r) => Number(r[2]))
    : [];
  return { uid, gid, additionalGids: [...new Set([gid, ...extra])], home };
}
