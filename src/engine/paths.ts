/**
 * Where hako keeps things: the store root (images, layers, containers; default
 * /var/lib/hako) and the state root for what does not survive a reboot (default /run/hako;
 * with an explicit root, `<root>/run`, so test roots never share state).
 */

import { env } from "../../ffi/host.ts";

/** The directories of one hako store. */
export interface Paths {
  root: string;
  run: string;
  containers: string;
  names: string;
}

/** Paths for `--root DIR`, else HAKO_ROOT, else the defaults. */
export function storePaths(root?: string): Paths {
  const r = (root ?? env("HAKO_ROOT") ?? "/var/lib/hako").replace(/\/+$/, "") || "/";
  const run = env("HAKO_STATE") ?? (r === "/var/lib/hako" ? "/run/hako" : `${r}/run`);
  return { root: r, run, containers: `${r}/containers`, names: `${r}/names` };
}
