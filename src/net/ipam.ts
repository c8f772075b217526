/**
 * Address management: one file per address in use, `<state>/networks/<network id>/<ip>`,
 * created with O_EXCL (so two starts, in any processes, can never get the same address)
 * and flock'ed by the process that runs the container for as long as it does. The file
 * holds the endpoint (container, name, MAC, ports, hosts file) that hosts.ts and nat.ts
 * rebuild their state from.
 *
 * A lease whose lock is free belongs to a launcher that died (hako killed): `sweep` finds
 * those whose container is gone too and hands them back, so the next command reclaims
 * them. Addresses are handed out round-robin (`.last`), so one just freed is not reused at
 * once while its old veth may still be draining from a dying namespace.
 *
 * @module
 */

import { AT_FDCWD, check, close, E, LOCK, O, SYS, sys } from "../../ffi/mod.ts";
import { addr, cstr } from "../../ffi/mod.ts";
import { mkdirSmall, readSmall } from "../../ffi/kfs.ts";
import * as fs from "../../ffi/fs.ts";
import type { Paths } from "../engine/paths.ts";
import { broadcast, formatIp, parseIp, type Subnet } from "./ip.ts";

/** A container's attachment to a network, as its lease file records it. */
export interface Endpoint {
  EndpointID: string;
  Container: string;
  Name: string;
  Hostname: string;
  Aliases: string[];
  IP: string;
  Prefix: number;
  Gateway: string;
  Mac: string;
  /** Host end of the veth pair. */
  Veth: string;
  /** Published ports, resolved (host port chosen). */
  Ports: PublishedPort[];
  /** The container's process and its /proc start time (0 until started). */
  Pid: number;
  StartTicks: number;
  HostsPath: string;
  ExtraHosts: string[];
}

/** One published port. */
export interface PublishedPort {
  proto: "tcp" | "udp";
  port: number;
  hostIp: string;
  hostPort: number;
}

const enc = new TextEncoder();

/** The directory of one network's leases. */
export function leaseDir(paths: Paths, networkId: string): string {
  return `${paths.run}/networks/${networkId}`;
}

function tryLock(fd: number, op: number): boolean {
  const r = sys(SYS.flock, fd, op | LOCK.NB);
  if (r === BigInt(-E.EAGAIN)) return false;
  check(r, `lock fd ${fd}`);
  return true;
}

/** An address held by this process. */
export class Lease {
  constructor(readonly path: string, readonly fd: number, readonly ip: number) {}

  /** Records the endpoint in the lease file. */
  write(ep: Endpoint): void {
    const b = enc.encode(JSON.stringify(ep));
    check(sys(SYS.lseek, this.fd, 0, 0), `write ${this.path}`);
    check(sys(SYS.ftruncate, this.fd, 0), `write ${this.path}`);
    check(sys(SYS.write, this.fd, addr(b), b.length), `write ${this.path}`);
  }

  /** Gives the address back (unlink while still locked, then unlock by closing). */
  release(): void {
    sys(SYS.unlinkat, AT_FDCWD, addr(cstr(this.path)), 0);
    close(this.fd);
  }
}

/**
 * Takes the next free address of `subnet` (not the network address, the gateway or the
 * broadcast) and locks it for this process. Null when every address is taken.
 */
export async function allocate(
  paths: Paths,
  networkId: string,
  subnet: Subnet,
  gateway: number,
): Promise<Lease | null> {
  const dir = leaseDir(paths, networkId);
  const first = subnet.base + 1, last = broadcast(subnet) - 1, size = last - first + 1;
  const lastText = readSmall(`${dir}/.last`);
  if (lastText === null) {
    // First lease of this network since boot (or ever): make its directory.
    mkdirSmall(paths.run);
    mkdirSmall(`${paths.run}/networks`);
    mkdirSmall(dir);
  }
  const hint = parseIp(lastText?.trim() ?? "") ?? 0;
  let start = hint >= first && hint <= last ? hint + 1 : first;
  for (let i = 0; i < size; i++, start++) {
    if (start > last) start = first;
    if (start === gateway) continue;
    const path = `${dir}/${formatIp(start)}`;
    const r = sys(
      SYS.openat,
      AT_FDCWD,
      addr(cstr(path)),
      O.RDWR | O.CREAT | O.EXCL | O.CLOEXEC,
      0o644,
    );
    if (r === BigInt(-E.EEXIST)) continue;
    const fd = Number(check(r, `create ${path}`));
    // A sweeper may hold the fresh (empty) file's lock for a moment; it leaves empty ones.
    for (let d = 1; !tryLock(fd, LOCK.EX); d = Math.min(d * 2, 20)) {
      await new Promise((res) => setTimeout(res, d));
    }
    writeHint(`${dir}/.last`, formatIp(start));
    return new Lease(path, fd, start);
  }
  return null;
}

/**
 * Overwrites the round-robin hint in place, padded to a fixed width: no truncation, which
 * on a disk-backed state directory is a journaled metadata change on every start.
 */
function writeHint(path: string, ip: string): void {
  const r = sys(SYS.openat, AT_FDCWD, addr(cstr(path)), O.WRONLY | O.CREAT | O.CLOEXEC, 0o644);
  if (r < 0n) return; // only a hint
  const b = enc.encode(ip.padEnd(16, " "));
  sys(SYS.write, r, addr(b), b.length);
  sys(SYS.close, r);
}

/** A lease file as read by someone else: its endpoint, and whether a live launcher holds it. */
export interface LeaseInfo {
  path: string;
  endpoint: Endpoint | null;
  held: boolean;
}

/** Every lease of a network, with whether its launcher still holds it. */
export async function leases(paths: Paths, networkId: string): Promise<LeaseInfo[]> {
  const dir = leaseDir(paths, networkId);
  const out: LeaseInfo[] = [];
  for (const name of await fs.readDir(dir)) {
    if (parseIp(name) === null) continue;
    const path = `${dir}/${name}`;
    const r = sys(SYS.openat, AT_FDCWD, addr(cstr(path)), O.RDONLY | O.CLOEXEC, 0);
    if (r < 0n) continue;
    const fd = Number(r);
    try {
      const held = !tryLock(fd, LOCK.SH);
      const text = readSmall(path) ?? "";
      let endpoint: Endpoint | null = null;
      try {
        endpoint = text ? JSON.parse(text) as Endpoint : null;
      } catch { /* being written */ }
      out.push({ path, endpoint, held });
    } finally {
      close(fd);
    }
  }
  return out;
}

/** True when `pid` is still the process that started at `ticks`. */
export function processAlive(pid: number, ticks: number): boolean {
  if (pid <= 0) return false;
  const s = readSmall(`/proc/${pid}/stat`);
  if (!s) return false;
  const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // A zombie (Z) or dying (X) process holds its pid until reaped but no longer the network.
  return rest[0] !== "Z" && rest[0] !== "X" && Number(rest[19]) === ticks;
}

/**
 * Hands back the leases whose launcher is gone and whose container is not running, calling
 * `reclaim` for each (under the lease's lock, before it is unlinked). Returns them.
 */
export async function sweep(
  paths: Paths,
  networkId: string,
  reclaim: (ep: Endpoint) => void | Promise<void>,
): Promise<Endpoint[]> {
  const dir = leaseDir(paths, networkId);
  const out: Endpoint[] = [];
  for (const name of await fs.readDir(dir)) {
    if (parseIp(name) === null) continue;
    const path = `${dir}/${name}`;
    const r = sys(SYS.openat, AT_FDCWD, addr(cstr(path)), O.RDWR | O.CLOEXEC, 0);
    if (r < 0n) continue;
    const fd = Number(r);
    try {
      if (!tryLock(fd, LOCK.EX)) continue;
      const text = readSmall(path) ?? "";
      let ep: Endpoint | null = null;
      try {
        ep = text ? JSON.parse(text) as Endpoint : null;
      } catch { /* cut short by a crash */ }
      if (!ep) {
        // Created a moment ago, its owner about to lock and fill it; or its owner died
        // in between: reclaim it once it is clearly old.
        const st = await fs.stat(path);
        if (!st || Date.now() - st.mtimeMs < 10_000) continue;
        sys(SYS.unlinkat, AT_FDCWD, addr(cstr(path)), 0);
        continue;
      }
      if (processAlive(ep.Pid, ep.StartTicks)) continue;
      await reclaim(ep);
      sys(SYS.unlinkat, AT_FDCWD, addr(cstr(path)), 0);
      out.push(ep);
    } finally {
      close(fd);
    }
  }
  return out;
}

/** Removes a network's lease directory (the network is gone). */
export async function removeLeases(paths: Paths, networkId: string): Promise<void> {
  await fs.remove(leaseDir(paths, networkId), { recursive: true });
}

/** Whether any lease of the network is held or names a running container. */
export async function inUse(paths: Paths, networkId: string): Promise<Endpoint[]> {
  return (await leases(paths, networkId))
    .filter((l) => l.held || (l.endpoint && processAlive(l.endpoint.Pid, l.endpoint.StartTicks)))
    .map((l) => l.endpoint!)
    .filter(Boolean);
}
