/**
 * blkio (v1) and io (v2) controllers: --blkio-weight and bytes read/written.
 *
 * Since Linux 5.0 removed CFQ, a v1 host without CFQ has blkio.bfq.weight instead of
 * blkio.weight (and v2 io.bfq.weight next to io.weight); runc writes whichever exists.
 */

import type { Limits } from "./limits.ts";
import { readValue, writeValue } from "./files.ts";

/** Bytes the container read from and wrote to block devices. */
export interface BlkioStats {
  readBytes: number;
  writeBytes: number;
}

/** v2 io.weight (1..10000) for a v1 blkio weight (10..1000), as runc converts it. */
export function blkioToIoWeight(weight: number): number {
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/** v1: blkio.weight, or blkio.bfq.weight on BFQ-only kernels. */
export async function applyV1(dir: string, limits: Limits): Promise<void> {
  if (limits.blkioWeight === undefined) return;
  const file = (await readValue(dir, "blkio.weight")) !== null
    ? "blkio.weight"
    : "blkio.bfq.weight";
  await writeValue(dir, file, limits.blkioWeight);
}

/** v2: io.bfq.weight (same 10..1000 scale) when BFQ is in use, else io.weight "default N". */
export async function applyV2(dir: string, limits: Limits): Promise<void> {
  if (limits.blkioWeight === undefined) return;
  if ((await readValue(dir, "io.bfq.weight")) !== null) {
    await writeValue(dir, "io.bfq.weight", limits.blkioWeight);
  } else {
    await writeValue(dir, "io.weight", `default ${blkioToIoWeight(limits.blkioWeight)}`);
  }
}

/** v1: sums "maj:min Read|Write N" lines of the recursive service-bytes file. */
export async function statsV1(dir: string): Promise<BlkioStats> {
  const text = (await readValue(dir, "blkio.throttle.io_service_bytes_recursive")) ??
    (await readValue(dir, "blkio.io_service_bytes_recursive")) ?? "";
  const out = { readBytes: 0, writeBytes: 0 };
  for (const line of text.split("\n")) {
    const [dev, op, n] = line.trim().split(/\s+/);
    if (!dev?.includes(":")) continue;
    if (op === "Read") out.readBytes += Number(n);
    if (op === "Write") out.writeBytes += Number(n);
  }
  return out;
}

/** v2: sums rbytes/wbytes of every device in io.stat. */
export async function statsV2(dir: string): Promise<BlkioStats> {
  const out = { readBytes: 0, writeBytes: 0 };
  for (const line of ((await readValue(dir, "io.stat")) ?? "").split("\n")) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split("=");
      if (k === "rbytes") out.readBytes += Number(v);
      if (k === "wbytes") out.writeBytes += Number(v);
    }
  }
  return out;
}
