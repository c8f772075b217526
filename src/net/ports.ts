/**
 * Published ports: `-p [ip:][hostPort[-end]:]containerPort[-end][/tcp|udp]` and `-P`, in
 * Docker's HostConfig.PortBindings shape, and their reservation on the host.
 *
 * Traffic reaches the container through DNAT (nat.ts), which needs no socket; hako still
 * binds every published host port for as long as the container runs, as Docker does, so a
 * port already used by another program (or another container) is a clear error before the
 * container starts, and nothing else can take it meanwhile. The sockets are close-on-exec
 * and die with their process, so a killed hako leaves no reservation behind.
 *
 * @module
 */

import { addr, check, E, SYS, sys, SysError } from "../../ffi/mod.ts";
import { readSmall } from "../../ffi/kfs.ts";
import { ConflictError, UsageError } from "../errors.ts";
import { parseIp } from "./ip.ts";
import type { PublishedPort } from "./ipam.ts";

/** HostConfig.PortBindings: "80/tcp" → [{HostIp, HostPort}] ("" = any / pick one). */
export type PortBindings = Record<string, { HostIp: string; HostPort: string }[]>;

function portNum(s: string, spec: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) {
    throw new UsageError(`invalid port specification "${spec}": ${s} is not a port number`);
  }
  return n;
}

function range(s: string, spec: string): [number, number] {
  const [a, b] = s.split("-");
  const lo = portNum(a, spec), hi = b === undefined ? lo : portNum(b, spec);
  if (hi < lo) throw new UsageError(`invalid port specification "${spec}": empty range ${s}`);
  return [lo, hi];
}

/** Parses `-p` values into PortBindings (merged into `into`). */
export function parsePublish(specs: string[] = [], into: PortBindings = {}): PortBindings {
  for (const spec of specs) {
    let rest = spec, proto = "tcp";
    const slash = rest.lastIndexOf("/");
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (proto !== "tcp" && proto !== "udp") {
        throw new UsageError(
          `invalid port specification "${spec}": protocol ${proto} is not tcp or udp`,
        );
      }
    }
    let hostIp = "", host = "", ctr = rest;
    if (rest.startsWith("[")) {
      throw new UsageError(
        `invalid port specification "${spec}": IPv6 host addresses are not supported`,
      );
    }
    const parts = rest.split(":");
    if (parts.length === 2) [host, ctr] = parts;
    else if (parts.length === 3) [hostIp, host, ctr] = parts;
    else if (parts.length > 3) throw new UsageError(`invalid port specification "${spec}"`);
    if (hostIp && parseIp(hostIp) === null) {
      throw new UsageError(
        `invalid port specification "${spec}": ${hostIp} is not an IPv4 address`,
      );
    }
    const [clo, chi] = range(ctr, spec);
    let hlo = 0, hhi = 0;
    if (host) {
      [hlo, hhi] = range(host, spec);
      if (hhi - hlo !== chi - clo && hhi !== hlo) {
        throw new UsageError(
          `invalid port specification "${spec}": host and container port ranges differ in size`,
        );
      }
    }
    for (let p = clo; p <= chi; p++) {
      const hp = !host ? "" : hhi === hlo ? String(hlo) : String(hlo + (p - clo));
      (into[`${p}/${proto}`] ??= []).push({ HostIp: hostIp, HostPort: hp });
    }
  }
  return into;
}

/** `-P`: every exposed port not bound yet gets a random host port. */
export function publishAll(exposed: string[], into: PortBindings): PortBindings {
  for (const e of exposed) {
    const key = e.includes("/") ? e : `${e}/tcp`;
    if (!into[key]?.length) into[key] = [{ HostIp: "", HostPort: "" }];
  }
  return into;
}

const AF_INET = 2, SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;

function sockaddr(ip: number, port: number): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(16));
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  v.setUint32(4, ip, false);
  return b;
}

/** Binds `proto` `ip:port`; returns the fd, or null when the port is taken. */
function bindPort(proto: "tcp" | "udp", ip: number, port: number): number | null {
  const fd = Number(check(
    sys(SYS.socket, AF_INET, (proto === "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0),
    "open a socket to reserve a port",
  ));
  const sa = sockaddr(ip, port);
  const r = sys(SYS.bind, fd, addr(sa), sa.length);
  if (r === 0n) return fd;
  sys(SYS.close, fd);
  if (r === BigInt(-E.EADDRINUSE)) return null;
  if (r === BigInt(-E.EADDRNOTAVAIL)) {
    throw new UsageError(
      `publish port ${port}/${proto}: the host has no address ${
        [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join(".")
      }`,
    );
  }
  throw new SysError(Number(-r), `reserve host port ${port}/${proto}`);
}

function ephemeralRange(): [number, number] {
  const t = readSmall("/proc/sys/net/ipv4/ip_local_port_range")?.trim().split(/\s+/).map(Number);
  return t && t.length === 2 && t[0] > 0 ? [t[0], t[1]] : [32768, 60999];
}

/** The host ports of a container, bound until `release`. */
export class PortReservation {
  readonly ports: PublishedPort[] = [];
  readonly #fds: number[] = [];

  /** Releases every reserved port. */
  release(): void {
    for (const fd of this.#fds.splice(0)) sys(SYS.close, fd);
  }

  /**
   * Reserves every binding; a port in use is a ConflictError naming it, and nothing stays
   * reserved. Empty HostPorts get a free port from the ephemeral range.
   */
  static reserve(bindings: PortBindings, name: string): PortReservation {
    const res = new PortReservation();
    try {
      for (const [key, list] of Object.entries(bindings)) {
        const [p, proto] = key.split("/") as [string, "tcp" | "udp"];
        for (const b of list) {
          const hostIp = b.HostIp || "0.0.0.0";
          const ip = parseIp(hostIp) ?? 0;
          let port = Number(b.HostPort) || 0, fd: number | null;
          if (port) {
            fd = bindPort(proto, ip, port);
            if (fd === null) {
              throw new ConflictError(
                `publish ${hostIp}:${port}/${proto} for container ${name}: the host port is already in use`,
              );
            }
          } else {
            const [lo, hi] = ephemeralRange();
            const span = hi - lo + 1;
            let at = lo + Math.floor(Math.random() * span);
            fd = null;
            for (let i = 0; i < span && fd === null; i++, at = at >= hi ? lo : at + 1) {
              if (res.ports.some((x) => x.hostPort === at)) continue;
              fd = bindPort(proto, ip, at);
              port = at;
            }
            if (fd === null) {
              throw new ConflictError(`publish ${key} for container ${name}: no free host port`);
            }
          }
          res.#fds.push(fd);
          res.ports.push({ proto, port: Number(p), hostIp, hostPort: port });
        }
      }
    } catch (e) {
      res.release();
      throw e;
    }
    return res;
  }
}

/** NetworkSettings.Ports: every exposed port, with its bindings or null. */
export function portsSettings(
  exposed: string[],
  published: PublishedPort[],
): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const e of exposed) out[e.includes("/") ? e : `${e}/tcp`] = null;
  for (const p of published) {
    (out[`${p.port}/${p.proto}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}

/** The PORTS column of `ps`: "0.0.0.0:8080->80/tcp, 53/udp" (Docker's order and form). */
export function portsColumn(ports: Record<string, unknown> | undefined): string {
  const out: string[] = [];
  const entries = Object.entries(ports ?? {}) as [
    string,
    { HostIp: string; HostPort: string }[] | null,
  ][];
  entries.sort(([a], [b]) => parseInt(a) - parseInt(b) || a.localeCompare(b));
  for (const [key, list] of entries) {
    if (!list?.length) out.push(key);
    else for (const b of list) out.push(`${b.HostIp || "0.0.0.0"}:${b.HostPort}->${key}`);
  }
  return out.join(", ");
}
