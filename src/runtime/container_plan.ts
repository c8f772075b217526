/**
 * Turns an OCI runtime spec into the syscall plan the native trampoline runs in the new
 * container process, in the order runc and crun use: signals and fds reset, cgroup joined,
 * root filesystem and mounts set up, pivot_root, masked and read-only paths, hostname,
 * loopback, rlimits, capabilities, user, then execve. All logic is here in TypeScript; the
 * trampoline only runs the list (DESIGN.md).
 */

import { E, Plan, SYS } from "../../ffi/mod.ts";
import {
  AT_FDCWD,
  CAP_LAST,
  CAPS,
  CLONE,
  makedev,
  MNT_DETACH,
  MS,
  NS_FLAG,
  O,
  parseMountOptions,
  PR,
  RLIMIT,
  S,
} from "./linux.ts";
import type { Spec } from "./spec.ts";
import { type ConsoleInput, consoleSteps } from "./tty.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./spec.ts";

/** Everything the plan needs that was worked out on the host side beforehand. */
export interface PlanInput {
  spec: Spec;
  /** Absolute host path of the directory that becomes "/". */
  rootfs: string;
  /** overlayfs data string; its paths are relative to `overlayCwd` (keeps it under a page). */
  overlay?: { data: string; cwd: string };
  /** Mount destination (and cwd) → path relative to the root, symlinks resolved inside it. */
  resolved: Map<string, string>;
  /** Bind-mount destinations whose source is a file (the target is created as a file). */
  fileBinds: Set<string>;
  /** Absolute in-container paths to try for argv[0], in PATH order. */
  execPaths: string[];
  /** Parent fds that become the container's 0, 1, 2 (-1 keeps the inherited one). */
  stdio?: [number, number, number];
  /** Open `cgroup.procs` fds; the child writes "0" to each before anything else. */
  cgroupProcsFds?: number[];
  /** Open namespace fds to join (setns) instead of creating, with their CLONE_ flag. */
  joinNamespaces?: { fd: number; flag: number }[];
  /** Extra steps right after the cgroup and namespace joins (network hand-off, net/). */
  early?: (p: Plan) => void;
  /** Extra steps right before the process steps and execve (wait for the network). */
  late?: (p: Plan) => void;
  /** Open a pty inside the container: controlling terminal, 0-2, /dev/console (tty.ts). */
  console?: ConsoleInput;
}

const DEVICES: [string, number, number, number][] = [
  ["null", 1, 3, 0o666],
  ["zero", 1, 5, 0o666],
  ["full", 1, 7, 0o666],
  ["random", 1, 8, 0o666],
  ["urandom", 1, 9, 0o666],
  ["tty", 5, 0, 0o666],
];

const DEV_LINKS: [string, string][] = [
  ["/proc/self/fd", "dev/fd"],
  ["/proc/self/fd/0", "dev/stdin"],
  ["/proc/self/fd/1", "dev/stdout"],
  ["/proc/self/fd/2", "dev/stderr"],
  ["pts/ptmx", "dev/ptmx"],
  ["/proc/kcore", "dev/core"],
];

const SIOCSIFFLAGS = 0x8914;
const IFF_UP_RUNNING = 0x1 | 0x40;
const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
const CLOSE_RANGE_CLOEXEC = 4;
const CAP_V3 = 0x20080522;

/**
 * The clone(2) flags for the namespaces the spec asks to create (not join). The cgroup
 * namespace is not among them: the plan unshares it after joining the container's cgroup,
 * so the container sees its own cgroup as "/" (runc does the same).
 */
export function cloneFlags(spec: Spec): number {
  let flags = 0;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!ns.path && ns.type !== "cgroup") flags |= NS_FLAG[ns.type] ?? 0;
  }
  return flags;
}

function hasNs(spec: Spec, type: string): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === type && !n.path);
}

/** mkdir -p of a root-relative path, each component ignoring EEXIST. */
function mkdirs(p: Plan, rel: string, what: string) {
  const parts = rel.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join("/");
    p.syscall(SYS.mkdirat, [AT_FDCWD, p.str(sub), 0o755], `${what}: mkdir ${sub}`, {
      ignore: E.EEXIST,
    });
  }
}

function capMask(names: string[] = []): [number, number] {
  let lo = 0, hi = 0;
  for (const n of names) {
    const c = CAPS[n];
    if (c === undefined) continue;
    if (c < 32) lo |= 1 << c;
    else hi |= 1 << (c - 32);
  }
  return [lo >>> 0, hi >>> 0];
}

/** Builds the plan. Throws TypeError for a spec it cannot express. */
export function buildContainerPlan(input: PlanInput): Plan {
  const { spec } = input;
  const proc = spec.process;
  if (!proc?.args?.length) throw new TypeError("config.json: process.args is empty");
  const p = new Plan();

  // A JS runtime's child inherits its blocked mask and ignored signals (SIGPIPE, SIGXFSZ):
  // the plan resets them all first (Plan.resetSignals).
  p.resetSignals = true;
  for (const fd of input.cgroupProcsFds ?? []) {
    p.syscall(SYS.write, [fd, p.str("0"), 1], "join the container's cgroup");
  }
  if (hasNs(spec, "cgroup")) {
    p.syscall(SYS.unshare, [CLONE.NEWCGROUP], "create the cgroup namespace");
  }
  for (const ns of input.joinNamespaces ?? []) {
    p.syscall(SYS.setns, [ns.fd, ns.flag], "join namespace");
  }
  input.early?.(p);
  p.syscall(SYS.setsid, [], "create a session", { ignore: E.EPERM });
  if (input.stdio) {
    input.stdio.forEach((fd, i) => {
      if (fd >= 0 && fd !== i) p.syscall(SYS.dup3, [fd, i, 0], `set up fd ${i}`);
    });
  }
  p.syscall(SYS.umask, [0], "umask 0");

  if (hasNs(spec, "mount")) mountRoot(p, input);
  if (spec.hostname && hasNs(spec, "uts")) {
    const h = new TextEncoder().encode(spec.hostname);
    p.syscall(SYS.sethostname, [p.bytes(h), h.length], `set hostname ${spec.hostname}`);
  }
  if (hasNs(spec, "network")) {
    const ifr = new Uint8Array(40);
    ifr.set(new TextEncoder().encode("lo"));
    new DataView(ifr.buffer).setInt16(16, IFF_UP_RUNNING, true);
    const sock = p.slot();
    p.syscall(SYS.socket, [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0], "open a socket", {
      store: sock,
    });
    p.syscall(SYS.ioctl, [0, SIOCSIFFLAGS, p.bytes(ifr)], "bring up loopback", {
      fromSlot: { 0: sock },
    });
    p.syscall(SYS.close, [0], "close the socket", { fromSlot: { 0: sock } });
  }
  // The pty comes from the container's own devpts, so after pivot_root (tty.ts).
  if (input.console) {
    consoleSteps(p, input.console, { uid: proc.user.uid, bindConsole: hasNs(spec, "mount") });
  }
  input.late?.(p);
  processSteps(p, proc, input.resolved.get(proc.cwd) ?? proc.cwd, input.execPaths);
  return p;
}

/**
 * The steps every container process ends with, new or exec'd: rlimits, no_new_privs,
 * capability bounding set, working directory, user and groups, capabilities, umask, fds,
 * then execve of each candidate path in turn (ENOENT moves on to the next).
 */
export function processSteps(
  p: Plan,
  proc: NonNullable<Spec["process"]>,
  cwd: string,
  execPaths: string[],
): void {
  for (const r of proc.rlimits ?? []) {
    const res = RLIMIT[r.type];
    if (res === undefined) throw new TypeError(`config.json: unknown rlimit ${r.type}`);
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(r.soft), true);
    dv.setBigUint64(8, BigInt(r.hard), true);
    p.syscall(SYS.prlimit64, [0, res, p.bytes(b), 0], `set ${r.type} to ${r.soft}:${r.hard}`);
  }
  if (proc.noNewPrivileges) {
    p.syscall(SYS.prctl, [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], "set no_new_privs");
  }
  const caps = proc.capabilities;
  if (caps) {
    const keep = new Set(caps.bounding ?? []);
    for (let c = 0; c <= CAP_LAST; c++) {
      const name = Object.keys(CAPS).find((k) => CAPS[k] === c)!;
      if (keep.has(name)) continue;
      p.syscall(SYS.prctl, [PR.CAPBSET_DROP, c, 0, 0, 0], `drop ${name}`, { ignore: E.EINVAL });
    }
  }
  p.syscall(SYS.chdir, [p.str("/" + cwd.replace(/^\/+/, ""))], `chdir to ${proc.cwd}`);

  const u = proc.user;
  const gids = u.additionalGids ?? [];
  const g = new Uint8Array(Math.max(4, gids.length * 4));
  gids.forEach((x, i) => new DataView(g.buffer).setUint32(i * 4, x, true));
  p.syscall(SYS.setgroups, [gids.length, p.bytes(g)], "set supplementary groups");
  p.syscall(SYS.setresgid, [u.gid, u.gid, u.gid], `set gid ${u.gid}`);
  p.syscall(SYS.setresuid, [u.uid, u.uid, u.uid], `set uid ${u.uid}`);
  if (caps && u.uid === 0) {
    // A non-root user keeps no capabilities: the kernel clears them at setresuid, as in Docker.
    const hdr = new Uint8Array(8);
    new DataView(hdr.buffer).setUint32(0, CAP_V3, true);
    const data = new Uint8Array(24);
    const dv = new DataView(data.buffer);
    const [eLo, eHi] = capMask(caps.effective), [pLo, pHi] = capMask(caps.permitted);
    const [iLo, iHi] = capMask(caps.inheritable);
    [eLo, pLo, iLo, eHi, pHi, iHi].forEach((v, i) => dv.setUint32(i * 4, v, true));
    p.syscall(SYS.capset, [p.bytes(hdr), p.bytes(data)], "set capabilities");
  }
  p.syscall(SYS.umask, [u.umask ?? 0o022], "set umask");
  p.syscall(SYS.close_range, [3, 0xffffffff, CLOSE_RANGE_CLOEXEC], "close inherited fds");

  const argv = p.strings(proc.args);
  const envp = p.strings(proc.env ?? []);
  execPaths.forEach((path, i) => {
    const last = i === execPaths.length - 1;
    p.syscall(SYS.execve, [p.str(path), argv, envp], `exec ${path}`, {
      ignore: last ? undefined : E.ENOENT,
    });
  });
}

/** Root filesystem, mounts, devices, pivot_root, masked and read-only paths. */
function mountRoot(p: Plan, input: PlanInput) {
  const { spec, rootfs } = input;
  // Our mounts must not propagate back to the host (and the host's not into us).
  p.syscall(SYS.mount, [0, p.str("/"), 0, MS.REC | MS.PRIVATE, 0], "make / private");
  if (input.overlay) {
    p.syscall(SYS.chdir, [p.str(input.overlay.cwd)], `chdir to ${input.overlay.cwd}`);
    p.syscall(
      SYS.mount,
      [p.str("overlay"), p.str(rootfs), p.str("overlay"), 0, p.str(input.overlay.data)],
      `mount overlay on ${rootfs}`,
    );
  } else {
    p.syscall(SYS.mount, [p.str(rootfs), p.str(rootfs), 0, MS.BIND | MS.REC, 0], "bind rootfs");
  }
  p.syscall(SYS.chdir, [p.str(rootfs)], `chdir to ${rootfs}`);

  for (const m of spec.mounts ?? []) {
    const rel = input.resolved.get(m.destination);
    if (rel === undefined) throw new TypeError(`mount ${m.destination}: destination not resolved`);
    const what = `mount ${m.type ?? "bind"} on ${m.destination}`;
    const { flags, data } = parseMountOptions(m.options);
    const isBind = (flags & MS.BIND) !== 0 || m.type === "bind";
    if (isBind && input.fileBinds.has(m.destination)) {
      const parent = rel.split("/").slice(0, -1).join("/");
      if (parent) mkdirs(p, parent, what);
      // Read-only: creating the target if missing must not copy an existing file up into
      // the container layer (overlayfs copies up on open for writing).
      const fd = p.slot();
      p.syscall(SYS.openat, [AT_FDCWD, p.str(rel), O.CREAT | O.RDONLY | O.CLOEXEC, 0o644], what, {
        store: fd,
      });
      p.syscall(SYS.close, [0], what, { fromSlot: { 0: fd } });
    } else {
      mkdirs(p, rel, what);
    }
    if (isBind) {
      const bindFlags = MS.BIND | (flags & MS.REC);
      p.syscall(SYS.mount, [p.str(m.source ?? ""), p.str(rel), 0, bindFlags, 0], what);
      const extra = flags & ~(MS.BIND | MS.REC | MS.PRIVATE | MS.SLAVE | MS.SHARED);
      if (extra) {
        p.syscall(
          SYS.mount,
          [0, p.str(rel), 0, MS.BIND | MS.REMOUNT | extra, 0],
          `${what} (remount)`,
        );
      }
    } else {
      p.syscall(
        SYS.mount,
        [
          p.str(m.source ?? m.type ?? "none"),
          p.str(rel),
          p.str(m.type ?? ""),
          flags,
          data ? p.str(data) : 0,
        ],
        what,
      );
    }
    if (m.destination === "/dev" && m.type === "tmpfs") devices(p, rel, input);
  }
  if (spec.hostname !== undefined && input.resolved.has("/etc/hostname")) {
    // Nothing: the engine bind-mounts its own /etc/hostname through spec.mounts.
  }
  const cwd = input.resolved.get(spec.process!.cwd);
  if (cwd) mkdirs(p, cwd, `create working directory ${spec.process!.cwd}`);

  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only ours.
  p.syscall(SYS.pivot_root, [p.str("."), p.str(".")], "pivot_root into the container root");
  p.syscall(SYS.umount2, [p.str("."), MNT_DETACH], "detach the old root");
  p.syscall(SYS.chdir, [p.str("/")], "chdir to /");

  for (const path of spec.linux?.maskedPaths ?? DEFAULT_MASKED_PATHS) {
    const s = p.str(path);
    // A file is hidden behind /dev/null, a directory behind an empty read-only tmpfs; one of
    // the two fails (ENOTDIR or not a directory) and a missing path is fine, so both ignore.
    p.syscall(SYS.mount, [p.str("/dev/null"), s, 0, MS.BIND, 0], `mask ${path}`, { ignore: "all" });
    p.syscall(SYS.mount, [p.str("tmpfs"), s, p.str("tmpfs"), MS.RDONLY, 0], `mask ${path}`, {
      ignore: "all",
    });
  }
  for (const path of spec.linux?.readonlyPaths ?? DEFAULT_READONLY_PATHS) {
    const s = p.str(path);
    p.syscall(SYS.mount, [s, s, 0, MS.BIND | MS.REC, 0], `bind ${path} read-only`, {
      ignore: E.ENOENT,
    });
    p.syscall(
      SYS.mount,
      [s, s, 0, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 0],
      `remount ${path} read-only`,
      { ignore: E.ENOENT },
    );
  }
  if (spec.root?.readonly) {
    p.syscall(
      SYS.mount,
      [0, p.str("/"), 0, MS.BIND | MS.REMOUNT | MS.RDONLY, 0],
      "make / read-only",
    );
  }
}

/** Device nodes and links in a fresh /dev tmpfs. */
function devices(p: Plan, dev: string, input: PlanInput) {
  for (const [name, major, minor, mode] of DEVICES) {
    p.syscall(
      SYS.mknodat,
      [AT_FDCWD, p.str(`${dev}/${name}`), S.IFCHR | mode, makedev(major, minor)],
      `create /dev/${name}`,
    );
  }
  for (const [target, link] of DEV_LINKS) {
    p.syscall(
      SYS.symlinkat,
      [p.str(target), AT_FDCWD, p.str(link.replace(/^dev/, dev))],
      `link /${link}`,
    );
  }
  void input;
}
