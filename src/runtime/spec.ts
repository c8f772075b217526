/**
 * The subset of the OCI runtime-spec `config.json` that hako reads and writes, and the
 * defaults Docker applies (capabilities, masked and read-only paths, standard mounts).
 *
 * This is the seam between the image side (which writes a bundle) and the runtime side
 * (which runs one), as podman → crun.
 */

/** One entry of `mounts`. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** `process.user`. */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** `process.rlimits[]`. */
export interface Rlimit {
  type: string;
  hard: number;
  soft: number;
}

/** `process.capabilities`: capability names such as "CAP_CHOWN". */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  permitted?: string[];
  inheritable?: string[];
  ambient?: string[];
}

/** `process`. */
export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
}

/** `linux.namespaces[]`. */
export interface Namespace {
  type: "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";
  path?: string;
}

/** `linux`. */
export interface Linux {
  namespaces?: Namespace[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  cgroupsPath?: string;
  // deno-lint-ignore no-explicit-any
  resources?: Record<string, any>;
  sysctl?: Record<string, string>;
}

/** The runtime-spec configuration of a bundle. */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: Mount[];
  linux?: Linux;
  annotations?: Record<string, string>;
}

/**
 * Annotation carrying overlayfs options ("lowerdir=…,upperdir=…,workdir=…") for the
 * rootfs. hako's engine mounts the overlay inside the container's own mount namespace, so
 * it disappears with the container and can never leak on the host; plain OCI bundles
 * without it get their `root.path` bind-mounted as runc and crun do.
 */
export const OVERLAY_ANNOTATION = "run.hako.rootfs.overlay";

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Docker's masked paths: hidden behind /dev/null (files) or an empty read-only tmpfs (dirs). */
export const DEFAULT_MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/** Docker's read-only paths. */
export const DEFAULT_READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** Docker's standard mounts, in order. */
export function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
  ];
}

/** Every namespace a Docker container gets by default. */
export function defaultNamespaces(): Namespace[] {
  return [
    { type: "pid" },
    { type: "network" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "cgroup" },
  ];
}
