/**
 * devices controller (v1): which device nodes a container may open or mknod.
 *
 * Default = deny everything, then allow what Docker containers get (runc's built-in
 * allow-list, libcontainer/specconv/spec_linux.go AllowedDevices, tun/tap re-added in
 * runc 1.2.4, opencontainers/runc#4555).
 *
 * v2 has no devices.* files: the kernel wants an eBPF program (BPF_CGROUP_DEVICE) attached to
 * the cgroup directory. Not done yet; on v2 the device rules are skipped (documented in mod.ts).
 */

import { writeValue } from "./files.ts";

/** One devices.allow/devices.deny line: type, major, minor ("*" = any), access. */
export interface DeviceRule {
  allow: boolean;
  type: "a" | "c" | "b";
  major?: number | "*";
  minor?: number | "*";
  access: string;
}

/** The devices a Docker container may use by default. */
export const DEFAULT_DEVICES: readonly DeviceRule[] = [
  { allow: false, type: "a", access: "rwm" },
  { allow: true, type: "c", major: "*", minor: "*", access: "m" }, // mknod any char device
  { allow: true, type: "b", major: "*", minor: "*", access: "m" }, // mknod any block device
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // /dev/full
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // /dev/random
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // /dev/urandom
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // /dev/tty
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" }, // /dev/console
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // /dev/ptmx
  { allow: true, type: "c", major: 136, minor: "*", access: "rwm" }, // /dev/pts/*
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" }, // /dev/net/tun
];

/** Every device allowed (--privileged). */
export const ALL_DEVICES: readonly DeviceRule[] = [{ allow: true, type: "a", access: "rwm" }];

/** "c 1:3 rwm" (v1 devices.allow syntax; "a" needs no numbers). */
export function formatRule(r: DeviceRule): string {
  if (r.type === "a") return "a";
  return `${r.type} ${r.major ?? "*"}:${r.minor ?? "*"} ${r.access}`;
}

/** v1: writes the rules in order (a deny-all first clears what the cgroup inherited). */
export async function applyV1(dir: string, rules: readonly DeviceRule[]): Promise<void> {
  for (const r of rules) {
    await writeValue(dir, r.allow ? "devices.allow" : "devices.deny", formatRule(r));
  }
}
