/**
 * IPv4 addresses and subnets as numbers: parsing, formatting, containment. Only IPv4 is
 * managed by hako's networks (as Docker's default); IPv6 inside containers stays link-local.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** An IPv4 subnet: network address and prefix length. */
export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/** Parses dotted-quad IPv4; null when it is not one. */
export function parseIp(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return null;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

/** Dotted-quad text of an address. */
export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The 4 network-order bytes of an address. */
export function ipBytes(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** The netmask of a prefix length. */
export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n"; throws UsageError naming `what` when it is not a subnet. */
export function parseSubnet(s: string, what = "subnet"): Subnet {
  const [ip, len] = s.split("/");
  const base = parseIp(ip ?? ""), prefix = Number(len);
  if (base === null || !/^\d+$/.test(len ?? "") || prefix < 8 || prefix > 30) {
    throw new UsageError(`invalid ${what} "${s}": expected an IPv4 CIDR such as 172.20.0.0/16`);
  }
  return { base: (base & mask(prefix)) >>> 0, prefix };
}

/** "a.b.c.d/n". */
export function formatSubnet(s: Subnet): string {
  return `${formatIp(s.base)}/${s.prefix}`;
}

/** True when `ip` lies in `s`. */
export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefix)) >>> 0) === s.base;
}

/** True when two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The last (broadcast) address of a subnet. */
export function broadcast(s: Subnet): number {
  return (s.base | ~mask(s.prefix)) >>> 0;
}

/** Docker's MAC for an address: 02:42 followed by the four address bytes. */
export function macFor(ip: number): string {
  return ["02", "42", ...Array.from(ipBytes(ip), (b) => b.toString(16).padStart(2, "0"))]
    .join(":");
}

/** The 6 bytes of a MAC written as aa:bb:cc:dd:ee:ff. */
export function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}
