/**
 * Boots a QEMU guest whose only cgroup hierarchy is cgroup2, with hako's compiled binary in
 * an initramfs, runs init.sh there and returns what it printed.
 *
 * - Kernel: Debian's cloud kernel (`linux-image-cloud-amd64` and the versioned package it
 *   depends on), fetched with `apt-get download` once and cached under /var/cache (override:
 *   HAKO_GUEST_CACHE); overlayfs is a module there, so overlay.ko goes into the initramfs.
 * - Root file system: an initramfs written here (cpio.ts): busybox, `dist/hako` built with
 *   `bun build --compile`, the glibc files `ldd` names for it, a busybox image tarball, and
 *   an ext4 image (mkfs.ext4 on the host) that init.sh writes to a RAM disk (brd) and mounts
 *   as hako's store, so container writes are block I/O the io controller counts.
 * - cgroup v1 is switched off on the kernel command line (`cgroup_no_v1=all`) and init.sh
 *   mounts cgroup2 alone at /sys/fs/cgroup.
 * - Accelerator: KVM when /dev/kvm is usable and is not the nested `kvm_pvm` (on which
 *   Debian's kernel does not boot), else TCG with `-M microvm,pit=on,pic=on,rtc=on` and
 *   `tsc_early_khz=<host TSC kHz>` (without it, TCG boots hang at random). HAKO_GUEST_ACCEL
 *   forces one.
 */

import * as fs from "../../ffi/fs.ts";
import { env } from "../../ffi/host.ts";
import { BUSYBOX, makeBusyboxTar, run } from "../fixtures.ts";
import { cpio, type Entry } from "./cpio.ts";

const REPO = new URL("../..", import.meta.url).pathname;
const HERE = new URL(".", import.meta.url).pathname;

/** Where the kernel packages are cached. */
export const CACHE = env("HAKO_GUEST_CACHE") ?? "/var/cache/hako-test-kernel";

/** A kernel image and the modules the guest needs from its package. */
export interface Kernel {
  version: string;
  vmlinuz: string;
  modules: string[];
}

async function has(cmd: string): Promise<boolean> {
  return (await run(["sh", "-c", `command -v ${cmd}`], { check: false })).code === 0;
}

/**
 * Why the guest cannot run here, or false. Fetches and unpacks the kernel into the cache
 * when it is not there yet.
 */
export async function guestUnavailable(): Promise<string | false> {
  if ((await run(["uname", "-m"])).stdout.trim() !== "x86_64") {
    return "the v2 guest is built for x86_64 hosts only";
  }
  if (!(await has("qemu-system-x86_64"))) {
    return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)";
  }
  if (!(await fs.exists(BUSYBOX))) return "needs busybox-static";
  try {
    await kernel();
  } catch (e) {
    return `Debian's cloud kernel is not available: ${(e as Error).message}`;
  }
  return false;
}

/** The cached kernel, downloading and unpacking it on first use. */
export async function kernel(): Promise<Kernel> {
  await fs.mkdir(CACHE);
  const unpacked = `${CACHE}/unpacked`;
  if (!(await fs.exists(`${unpacked}/boot`))) {
    const dl = (pkg: string) =>
      run(["sh", "-c", `cd '${CACHE}' && apt-get download ${pkg} 2>&1`], { check: false });
    let meta = (await fs.readDir(CACHE)).find((f) => /^linux-image-cloud-amd64_.*\.deb$/.test(f));
    if (!meta) {
      const r = await dl("linux-image-cloud-amd64");
      meta = (await fs.readDir(CACHE)).find((f) => /^linux-image-cloud-amd64_.*\.deb$/.test(f));
      if (!meta) throw new Error(`apt-get download linux-image-cloud-amd64: ${r.stdout.trim()}`);
    }
    const depends = (await run(["dpkg-deb", "-f", `${CACHE}/${meta}`, "Depends"])).stdout;
    const pkg = /linux-image-[0-9][^\s,(]*/.exec(depends)?.[0];
    if (!pkg) throw new Error(`${meta} depends on no kernel image (${depends.trim()})`);
    let deb = (await fs.readDir(CACHE)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
    if (!deb) {
      const r = await dl(pkg);
      deb = (await fs.readDir(CACHE)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${pkg}: ${r.stdout.trim()}`);
    }
    const tmp = `${unpacked}.tmp`;
    await fs.remove(tmp, { recursive: true });
    await run(["dpkg-deb", "-x", `${CACHE}/${deb}`, tmp]);
    await fs.rename(tmp, unpacked);
  }
  const vmlinuz = (await fs.readDir(`${unpacked}/boot`)).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new Error(`no vmlinuz in ${unpacked}/boot`);
  const version = vmlinuz.slice("vmlinuz-".length);
  const config = await fs.readText(`${unpacked}/boot/config-${version}`);
  const modules: string[] = [];
  // Built in (=y) is enough; as a module (=m) it goes into the initramfs.
  const needed = [
    ["CONFIG_OVERLAY_FS", "kernel/fs/overlayfs/overlay.ko"],
    // A RAM-backed block device for the store, so block I/O goes through the block layer.
    ["CONFIG_BLK_DEV_RAM", "kernel/drivers/block/brd.ko"],
    ["CONFIG_EXT4_FS", "kernel/fs/ext4/ext4.ko"],
  ];
  for (const [option, path] of needed) {
    if (new RegExp(`^${option}=m$`, "m").test(config)) {
      modules.push(`${unpacked}/lib/modules/${version}/${path}`);
    } else if (!new RegExp(`^${option}=y$`, "m").test(config)) {
      throw new Error(`the kernel ${version} has no ${option}`);
    }
  }
  return { version, vmlinuz: `${unpacked}/boot/${vmlinuz}`, modules };
}

/** Builds hako's single binary (bun build --compile) into `out`. */
export async function buildHako(out: string): Promise<void> {
  await run([
    `${REPO}node_modules/.bin/bun`,
    "build",
    "--compile",
    "--minify",
    "--outfile",
    out,
    `${REPO}mod.ts`,
  ]);
}

/** The shared libraries and loader `ldd` lists for a binary (empty for a static one). */
async function libraries(binary: string): Promise<string[]> {
  const r = await run(["ldd", binary], { check: false });
  return [...r.stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]);
}

/** Writes the initramfs for `init.sh`; returns its path. */
export async function buildInitramfs(dir: string, k: Kernel, prebuilt?: string): Promise<string> {
  const hako = prebuilt ?? `${dir}/hako`;
  if (!prebuilt) await buildHako(hako);
  await makeBusyboxTar(`${dir}/bb.tar.gz`);
  // The guest's store file system, written to its RAM disk at boot (gzip keeps it small).
  await run(["truncate", "-s", "64M", `${dir}/store.ext4`]);
  await run(["mkfs.ext4", "-q", "-F", "-L", "hako", `${dir}/store.ext4`]);
  await run(["gzip", "-1", `${dir}/store.ext4`]);
  const entries: Entry[] = [];
  const dirs = new Set<string>();
  const addDir = (p: string) => {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) entries.push({ path: d, type: "dir" }), dirs.add(d);
    }
  };
  const addFile = async (path: string, from: string, mode = 0o644) => {
    addDir(path.split("/").slice(0, -1).join("/"));
    entries.push({ path, type: "file", mode, data: await fs.readFile(from) });
  };
  for (const d of ["dev", "proc", "sys", "tmp", "run", "root", "var/lib", "etc", "lib/modules"]) {
    addDir(d);
  }
  await addFile("bin/busybox", BUSYBOX, 0o755);
  const applets = (await run([BUSYBOX, "--list"])).stdout.split("\n").filter(Boolean);
  for (const a of applets) {
    if (a !== "busybox") entries.push({ path: `bin/${a}`, type: "symlink", target: "busybox" });
  }
  await addFile("bin/hako", hako, 0o755);
  for (const lib of await libraries(hako)) await addFile(lib.replace(/^\//, ""), lib, 0o755);
  for (const m of k.modules) await addFile(`lib/modules/${m.split("/").pop()}`, m);
  await addFile("bb.tar.gz", `${dir}/bb.tar.gz`);
  await addFile("store.ext4.gz", `${dir}/store.ext4.gz`);
  entries.push({
    path: "etc/passwd",
    type: "file",
    data: new TextEncoder().encode("root:x:0:0:root:/root:/bin/sh\n"),
  });
  await addFile("init", `${HERE}init.sh`, 0o755);
  const out = `${dir}/initramfs.cpio`;
  await fs.writeFile(out, cpio(entries));
  return out;
}

/** The host's TSC frequency in kHz (the kernel's boot message, else /proc/cpuinfo). */
export async function hostTscKhz(): Promise<number> {
  const dmesg = (await run(["dmesg"], { check: false })).stdout;
  const m = /tsc: (?:Refined TSC clocksource calibration|Detected): (\d+)\.(\d+) MHz/.exec(dmesg) ??
    /tsc: Detected (\d+)\.(\d+) MHz/.exec(dmesg);
  if (m) return Number(m[1]) * 1000 + Number(m[2].padEnd(3, "0").slice(0, 3));
  const c = /^cpu MHz\s*:\s*([\d.]+)/m.exec(await fs.readText("/proc/cpuinfo"));
  return c ? Math.round(Number(c[1]) * 1000) : 0;
}

/** KVM when it is usable and not the nested kvm_pvm, else TCG. */
export async function pickAccel(): Promise<"kvm" | "tcg"> {
  const forced = env("HAKO_GUEST_ACCEL");
  if (forced === "kvm" || forced === "tcg") return forced;
  if (!(await fs.exists("/dev/kvm"))) return "tcg";
  if (await fs.exists("/sys/module/kvm_pvm")) return "tcg";
  return "kvm";
}

/** What a boot printed and how it went. */
export interface Boot {
  accel: "kvm" | "tcg";
  seconds: number;
  code: number;
  console: string;
  /** HAKO-RESULT lines: key → value. */
  results: Map<string, string>;
}

/** Boots the guest and waits for it to power off (killed after `timeoutSeconds`). */
export async function boot(
  k: Kernel,
  initramfs: string,
  timeoutSeconds: number,
): Promise<Boot> {
  const accel = await pickAccel();
  const append = [
    "console=ttyS0",
    "quiet",
    "panic=1",
    "cgroup_no_v1=all",
    "systemd.unified_cgroup_hierarchy=1",
    ...(accel === "tcg" ? [`tsc_early_khz=${await hostTscKhz()}`] : []),
  ].join(" ");
  const argv = [
    "timeout",
    "-s",
    "KILL",
    String(timeoutSeconds),
    "qemu-system-x86_64",
    "-M",
    "microvm,pit=on,pic=on,rtc=on",
    "-accel",
    accel,
    "-cpu",
    accel === "kvm" ? "host" : "max",
    "-smp",
    "2",
    "-m",
    "1536",
    "-nographic",
    "-no-reboot",
    "-nodefaults",
    "-serial",
    "stdio",
    "-kernel",
    k.vmlinuz,
    "-initrd",
    initramfs,
    "-append",
    append,
  ];
  const t0 = performance.now();
  const r = await run(argv, { check: false });
  const results = new Map<string, string>();
  for (const line of r.stdout.split(/\r?\n/)) {
    const m = /HAKO-RESULT (\S+) ?(.*)$/.exec(line);
    if (m) results.set(m[1], m[2].trim());
  }
  return {
    accel,
    seconds: (performance.now() - t0) / 1000,
    code: r.code,
    console: r.stdout + r.stderr,
    results,
  };
}
