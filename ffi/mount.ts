/**
 * <sys/mount.h>: mount, umount2, pivot_root.
 *
 * @module
 */

import { check } from "./errno.ts";
import { addr, cstr, strAddr, SYS, sys } from "./sys.ts";

/** mount(2) flags. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  NOATIME: 1024,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
} as const;
/** umount2 flag: lazy unmount. */
export const MNT_DETACH = 2;

/** Mounts `src` (fstype, flags, data as in mount(2)); null means a NULL pointer. */
export function mount(
  src: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  const s = src === null ? null : cstr(src), t = cstr(target);
  const f = fstype === null ? null : cstr(fstype), d = data === null ? null : cstr(data);
  check(
    sys(SYS.mount, strAddr(s), addr(t), strAddr(f), flags, strAddr(d)),
    `mount ${fstype ?? src ?? ""} on ${target}`.replace("  ", " "),
  );
}

/** Unmounts `target`. */
export function umount2(target: string, flags = 0): void {
  check(sys(SYS.umount2, addr(cstr(target)), flags), `unmount ${target}`);
}

/** Makes `newRoot` the root and moves the old root to `putOld`. */
export function pivotRoot(newRoot: string, putOld: string): void {
  check(
    sys(SYS.pivot_root, addr(cstr(newRoot)), addr(cstr(putOld))),
    `pivot root to ${newRoot}`,
  );
}
