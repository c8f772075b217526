/**
 * The VM rows: QEMU booting Debian's cloud kernel with a busybox initramfs whose /init
 * prints a marker and powers off, timed both to the marker and to QEMU's exit. Which
 * accelerator a row uses is part of its label (hardware KVM, nested KVM, nested PVM KVM,
 * TCG emulation), because that, far more than the VMM, decides the figure.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { lastLines, runCommand, sh, which } from "./proc.ts";
import type { Case } from "./runner.ts";

/** What /init prints once the guest's user space runs. */
export const MARKER = "hako-bench: guest /init reached";

/** Debian's cloud kernel meta-package (x86-64). */
export const KERNEL_PKG = "linux-image-cloud-amd64";

/** The state of the cached VM kernel. */
export interface KernelStatus {
  path: string | null;
  version: string | null;
  missing?: string;
}

/** Finds the extracted kernel in `<cache>/kernel`. */
export async function kernelStatus(cache: string): Promise<KernelStatus> {
  const dir = `${cache}/kernel`;
  const names = (await fs.readDir(dir).catch(() => [] as string[])).filter((n) =>
    n.startsWith("vmlinuz-")
  ).sort();
  const name = names.at(-1);
  if (!name) {
    return {
      path: null,
      version: null,
      missing:
        `no kernel in ${dir}: deno task bench --setup (apt-get download ${KERNEL_PKG} and its kernel package, dpkg-deb -x, keep boot/vmlinuz-*)`,
    };
  }
  return { path: `${dir}/${name}`, version: name.slice("vmlinuz-".length) };
}

/**
 * Downloads (does not install) Debian's cloud kernel and the versioned package it depends
 * on, extracts vmlinuz into `<cache>/kernel` and removes the packages; returns the path.
 */
export async function setupKernel(cache: string, log: (s: string) => void): Promise<string> {
  const apt = await which("apt-get");
  if (!apt) {
    throw new Error("the VM kernel comes from Debian's archive, and there is no apt-get here");
  }
  const tmp = `${cache}/download`;
  await fs.remove(tmp, { recursive: true }).catch(() => {});
  await fs.mkdir(tmp, { recursive: true });
  try {
    await sh([apt, "download", KERNEL_PKG], { cwd: tmp });
    const meta = (await fs.readDir(tmp)).find((n) => n.endsWith(".deb"));
    if (!meta) throw new Error(`apt-get download ${KERNEL_PKG} left no .deb`);
    const depends = await sh(["dpkg-deb", "-f", `${tmp}/${meta}`, "Depends"]);
    const pkg = depends.split(/[,|]/)[0].trim().split(/\s/)[0];
    if (!/^linux-image-/.test(pkg)) {
      throw new Error(`${KERNEL_PKG} depends on ${depends.trim()}, not a kernel`);
    }
    log(`setup: ${KERNEL_PKG} depends on ${pkg}; downloading it`);
    await sh([apt, "download", pkg], { cwd: tmp });
    const deb = (await fs.readDir(tmp)).find((n) => n.startsWith(`${pkg}_`));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
    await sh(["dpkg-deb", "-x", `${tmp}/${deb}`, `${tmp}/x`]);
    const vmlinuz = (await fs.readDir(`${tmp}/x/boot`)).find((n) => n.startsWith("vmlinuz-"));
    if (!vmlinuz) throw new Error(`${deb} has no boot/vmlinuz-*`);
    await fs.mkdir(`${cache}/kernel`, { recursive: true });
    await fs.writeFile(`${cache}/kernel/${vmlinuz}`, await fs.readFile(`${tmp}/x/boot/${vmlinuz}`));
    return `${cache}/kernel/${vmlinuz}`;
  } finally {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** What /dev/kvm is on this host. */
export interface KvmInfo {
  /** "hardware", "nested" (VT-x/AMD-V under a hypervisor), "nested-pvm", or "none". */
  kind: "hardware" | "nested" | "nested-pvm" | "none";
  /** The row label for it. */
  label: string;
  /** The KVM module providing /dev/kvm (kvm_intel, kvm_amd, kvm_pvm), when known. */
  module: string | null;
  /** One sentence: what was found and what it means for the VM rows. */
  detail: string;
}

async function readOr(path: string): Promise<string> {
  return await fs.readText(path).catch(() => "");
}

async function kernelLog(): Promise<string> {
  const r = await runCommand(["dmesg"], { timeoutMs: 10_000, full: true });
  return r.code === 0 ? r.output : "";
}

/** Finds what backs /dev/kvm: the vendor module, a nested hypervisor, PVM, or nothing. */
export async function detectKvm(): Promise<KvmInfo> {
  const cpuinfo = await readOr("/proc/cpuinfo");
  const flags = new Set((cpuinfo.match(/^flags\s*:(.*)$/m)?.[1] ?? "").trim().split(/\s+/));
  const underHypervisor = flags.has("hypervisor");
  const loaded = async (m: string) => await fs.exists(`/sys/module/${m}`);
  const vendor = (await loaded("kvm_intel"))
    ? "kvm_intel"
    : (await loaded("kvm_amd"))
    ? "kvm_amd"
    : null;
  const pvm = await loaded("kvm_pvm");
  const dev = await fs.exists("/dev/kvm");
  if (!dev) {
    const dmesg = await kernelLog();
    let why = "no /dev/kvm";
    if (pvm && /kvm-pvm: this kernel is itself a kvm-pvm guest/.test(dmesg)) {
      why += ": kvm_pvm is loaded but not bound, as this kernel is itself a PVM guest (dmesg)";
    } else if (pvm && underHypervisor) {
      why += ": kvm_pvm is loaded but made no device; this kernel itself runs under a " +
        "hypervisor (kvm_pvm does not bind in a PVM guest)";
    } else if (!flags.has("vmx") && !flags.has("svm") && !pvm) {
      why += ": the CPU shows no VT-x/AMD-V and no KVM module is loaded";
    } else why += ` (load ${flags.has("svm") ? "kvm_amd" : "kvm_intel"})`;
    return { kind: "none", label: "KVM", module: null, detail: `${why}; only TCG rows can run` };
  }
  if (vendor) {
    return underHypervisor
      ? {
        kind: "nested",
        label: "nested KVM",
        module: vendor,
        detail: `/dev/kvm from ${vendor} inside a VM (nested hardware virtualization)`,
      }
      : {
        kind: "hardware",
        label: "hardware KVM",
        module: vendor,
        detail: `/dev/kvm from ${vendor} on bare metal`,
      };
  }
  if (pvm) {
    return {
      kind: "nested-pvm",
      label: "nested PVM KVM",
      module: "kvm_pvm",
      detail:
        "/dev/kvm from kvm_pvm (nested, page-table based virtualization); Debian's stock kernel is known not to boot on it (KVM internal error: emulation failure)",
    };
  }
  return {
    kind: "hardware",
    label: "KVM",
    module: null,
    detail: "/dev/kvm present, module unknown",
  };
}

/** The host's TSC frequency in kHz and where it was read, or null. */
export interface TscInfo {
  khz: number | null;
  source: string;
}

/**
 * The host TSC frequency for the guest's `tsc_early_khz=`: the kernel's own calibration
 * from its log ("Refined TSC clocksource calibration" wins over "Detected"), then sysfs
 * tsc_freq_khz where a kernel offers it, then /proc/cpuinfo's "cpu MHz" (close only on
 * CPUs with a constant TSC), each labelled.
 */
export async function detectTsc(): Promise<TscInfo> {
  const dmesg = await kernelLog();
  const refined = dmesg.match(/Refined TSC clocksource calibration: (\d+)\.(\d{3}) MHz/);
  const detected = dmesg.match(/tsc: Detected (\d+)\.(\d{3}) MHz processor/);
  const m = refined ?? detected;
  if (m) {
    return {
      khz: Number(m[1]) * 1000 + Number(m[2]),
      source: `kernel log: "${m[0].trim()}"`,
    };
  }
  const sysfs = (await readOr("/sys/devices/system/cpu/cpu0/tsc_freq_khz")).trim();
  if (/^\d+$/.test(sysfs)) {
    return { khz: Number(sysfs), source: "/sys/devices/system/cpu/cpu0/tsc_freq_khz" };
  }
  const cpuinfo = await readOr("/proc/cpuinfo");
  const mhz = cpuinfo.match(/^cpu MHz\s*:\s*([\d.]+)/m);
  const constant = /\bconstant_tsc\b/.test(cpuinfo);
  if (mhz) {
    return {
      khz: Math.round(Number(mhz[1]) * 1000),
      source: `/proc/cpuinfo "cpu MHz" ${
        constant
          ? `(constant_tsc${/\btsc_known_freq\b/.test(cpuinfo) ? ", tsc_known_freq" : ""})`
          : "(no constant_tsc: approximate)"
      }`,
    };
  }
  return { khz: null, source: "not found (no kernel log line, no tsc_freq_khz, no cpu MHz)" };
}

/**
 * Writes the initramfs: a newc cpio (no compression, nothing for the guest to unpack but
 * the archive) with busybox, /dev/console, and an /init that prints `MARKER` and powers
 * off (reboot -f as a fallback; QEMU runs with -no-reboot, so either ends it).
 */
export async function makeInitramfs(path: string, busybox = "/bin/busybox"): Promise<void> {
  const init =
    `#!/bin/busybox sh\n/bin/busybox echo '${MARKER}'\n/bin/busybox poweroff -f\n/bin/busybox reboot -f\n`;
  const entries: CpioEntry[] = [
    { name: "bin", mode: 0o040755 },
    { name: "dev", mode: 0o040755 },
    { name: "dev/console", mode: 0o020600, rdev: [5, 1] },
    { name: "proc", mode: 0o040755 },
    { name: "sys", mode: 0o040755 },
    { name: "bin/busybox", mode: 0o100755, data: await fs.readFile(busybox) },
    { name: "bin/sh", mode: 0o120777, data: new TextEncoder().encode("busybox") },
    { name: "init", mode: 0o100755, data: new TextEncoder().encode(init) },
  ];
  await fs.writeFile(path, cpio(entries));
}

interface CpioEntry {
  name: string;
  mode: number;
  data?: Uint8Array;
  rdev?: [number, number];
}

/** A newc ("070701") cpio archive of `entries`, ending with the TRAILER!!! entry. */
export function cpio(entries: CpioEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const all = [...entries, { name: "TRAILER!!!", mode: 0 }];
  all.forEach((e, i) => {
    const data = e.data ?? new Uint8Array(0);
    const hex = (n: number) => n.toString(16).padStart(8, "0");
    const fields = [
      i + 1, // ino
      e.mode,
      0, // uid
      0, // gid
      (e.mode & 0o170000) === 0o040000 ? 2 : 1, // nlink
      0, // mtime
      data.length,
      0, // devmajor
      0, // devminor
      e.rdev?.[0] ?? 0,
      e.rdev?.[1] ?? 0,
      enc.encode(e.name).length + 1,
      0, // check
    ];
    // The header (110 bytes) and the name are padded together to a multiple of 4.
    const head = enc.encode("070701" + fields.map(hex).join("") + e.name + "\0");
    push(head);
    if (data.length) push(data);
  });
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) out.set(p, off), off += p.length;
  return out;
}

/** What the VM cases need. */
export interface VmSetup {
  qemu: string | null;
  qemuMissing?: string;
  kernel: string | null;
  kernelMissing?: string;
  initrd: string;
  kvm: KvmInfo;
  tsc: TscInfo;
  timeoutMs: number;
  probeTimeoutMs: number;
}

/** The QEMU command line of one VM row. */
export function qemuArgv(v: VmSetup, machine: "microvm" | "pc", accel: "kvm" | "tcg"): string[] {
  const append = ["console=ttyS0", "quiet", "panic=-1"];
  // Under TCG the guest cannot calibrate its TSC against emulated timers reliably; boots
  // then hang at random. Telling it the host's frequency avoids the calibration.
  if (accel === "tcg" && v.tsc.khz) append.push(`tsc_early_khz=${v.tsc.khz}`);
  const m = machine === "microvm"
    ? accel === "tcg" ? "microvm,pit=on,pic=on,rtc=on" : "microvm"
    : "pc";
  return [
    v.qemu ?? "qemu-system-x86_64",
    "-M",
    m,
    "-accel",
    accel,
    ...(accel === "kvm" ? ["-cpu", "host"] : []),
    "-m",
    "256",
    "-smp",
    "1",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-kernel",
    v.kernel ?? "vmlinuz",
    "-initrd",
    v.initrd,
    "-append",
    append.join(" "),
  ];
}

/** Why a failed boot failed, in one sentence, from QEMU's and the guest's output. */
export function explainBoot(output: string): string | null {
  if (/emulation failure/i.test(output)) {
    return "KVM internal error: emulation failure (the guest kernel does not boot on this KVM)";
  }
  const panic = output.match(/Kernel panic[^\n]*/);
  if (panic) return panic[0].trim();
  const q = output.split("\n").find((l) => /^qemu-system|qemu: /.test(l));
  return q ? q.trim() : lastLines(output, 2) || null;
}

/** The VM cases: -M microvm and -M pc, under KVM (when it can work) and under TCG. */
export function vmCases(v: VmSetup): Case[] {
  const cases: Case[] = [];
  const common = v.qemuMissing ?? v.kernelMissing;
  for (const accel of ["kvm", "tcg"] as const) {
    for (const machine of ["microvm", "pc"] as const) {
      const accelLabel = accel === "tcg" ? "TCG emulation" : v.kvm.label;
      let skip = common;
      if (!skip && accel === "kvm" && v.kvm.kind === "none") {
        skip = v.kvm.detail.replace(/; only TCG.*$/, "");
      }
      if (!skip && accel === "tcg" && !v.tsc.khz) {
        skip =
          "the host TSC frequency was not found, and TCG boots without tsc_early_khz hang at random";
      }
      const notes: string[] = [];
      if (accel === "tcg" && v.tsc.khz) notes.push(`tsc_early_khz from ${v.tsc.source}`);
      if (accel === "tcg" && machine === "microvm") {
        notes.push("microvm needs pit=on,pic=on,rtc=on under TCG");
      }
      if (accel === "kvm" && v.kvm.kind === "nested-pvm") notes.push(v.kvm.detail);
      cases.push({
        id: `qemu-${machine}-${accel}`,
        label: `QEMU -M ${machine}, ${accelLabel}`,
        kind: "vm",
        argv: qemuArgv(v, machine, accel),
        note: notes.join("; ") || undefined,
        skip,
        marker: MARKER,
        markerLabels: ["to /init marker", "to exit"],
        timeoutMs: v.timeoutMs,
        probeTimeoutMs: v.probeTimeoutMs,
        explain: (r) => explainBoot(r.output),
      });
    }
  }
  return cases;
}

/** Firecracker's published start-up figure: a reference row, never a measurement. */
export const FIRECRACKER_REFERENCE = {
  id: "firecracker-spec",
  label: "Firecracker microVM, published ≤125 ms to guest /sbin/init",
  value: 125,
  source:
    "Firecracker SPECIFICATION.md: from the InstanceStart API call to the guest's /sbin/init, on an i3.metal host (hardware KVM), 2 vCPUs, 256 MiB, Firecracker-tuned guest kernel; an upper bound, not measured here",
  url: "https://github.com/firecracker-microvm/firecracker/blob/main/SPECIFICATION.md",
};
