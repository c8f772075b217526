/**
 * A minimal writer for the kernel's initramfs format (cpio "newc", see the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst), so the guest test needs no
 * cpio tool on the host.
 */

/** One initramfs entry. */
export type Entry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; mode?: number; data: Uint8Array }
  | { path: string; type: "symlink"; target: string };

const enc = new TextEncoder();

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000;

function header(ino: number, mode: number, size: number, nameSize: number): Uint8Array {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
  // rdevminor, namesize, check: each an 8-digit hex number.
  const f = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameSize, 0];
  return enc.encode("070701" + f.map((n) => n.toString(16).padStart(8, "0")).join(""));
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Serializes entries (parents before children) into one newc archive. */
export function cpio(entries: Entry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let ino = 1;
  const add = (mode: number, path: string, data: Uint8Array) => {
    const name = enc.encode(path.replace(/^\/+/, "") + "\0");
    parts.push(header(ino++, mode, data.length, name.length), name);
    parts.push(new Uint8Array(pad4(110 + name.length)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    if (e.type === "dir") add(S_IFDIR | (e.mode ?? 0o755), e.path, new Uint8Array(0));
    else if (e.type === "file") add(S_IFREG | (e.mode ?? 0o644), e.path, e.data);
    else add(S_IFLNK | 0o777, e.path, enc.encode(e.target));
  }
  add(0, "TRAILER!!!", new Uint8Array(0));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
