/**
 * `hako create` (and the first half of `run`): resolve the image, decide the container's
 * process, user, mounts and security settings the way Docker does, and write the record
 * and its OCI bundle. Nothing runs yet; on any error nothing is left in the store.
 */

import * as fs from "../../ffi/fs.ts";
import { UsageError } from "../errors.ts";
import type { Limits } from "../cgroups/mod.ts";
import { type Image, resolveImage } from "../image/resolve.ts";
import { CAPS, parseSignal } from "../runtime/linux.ts";
import {
  DEFAULT_CAPS,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  type Mount,
  OVERLAY_ANNOTATION,
  type Rlimit,
  type Spec,
} from "../runtime/spec.ts";
import type { Paths } from "./paths.ts";
import {
  claimName,
  type Container,
  containerDir,
  type MountPoint,
  releaseName,
  writeRecord,
} from "./record.ts";
import { resolveUser } from "./user.ts";
import { randomName } from "./names.ts";
import { chooseNetwork, type NetworkFlags } from "../net/config.ts";
import { hostResolv } from "../net/resolv.ts";

/** What `create`/`run` accept (already parsed from flags). */
export interface CreateOptions extends NetworkFlags {
  image: string;
  /** The image, already resolved (a build step runs on an image not indexed in the store). */
  resolvedImage?: Image;
  cmd?: string[];
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  volumes?: string[];
  hostname?: string;
  entrypoint?: string;
  rm?: boolean;
  tty?: boolean;
  interactive?: boolean;
  network?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  readOnly?: boolean;
  ulimits?: string[];
  restart?: string;
  labels?: string[];
  stopSignal?: string;
  /** Validated cgroup limits. */
  limits?: Limits;
  /** The same limits as Docker's HostConfig fields (Memory, NanoCpus, …), for inspect. */
  // deno-lint-ignore no-explicit-any
  resources?: Record<string, any>;
}

const ZERO_TIME = "0001-01-01T00:00:00Z";
const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Parses `-v SRC:DST[:ro|rw]` into an OCI mount and its inspect form. */
export function parseVolume(v: string): { mount: Mount; point: MountPoint } {
  const parts = v.split(":");
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new UsageError(
      `invalid volume specification "${v}": expected /host/path:/container/path[:ro]`,
    );
  }
  const [src, dst, mode = "rw"] = parts;
  if (!src.startsWith("/")) {
    throw new UsageError(
      `invalid volume specification "${v}": named volumes are not supported; use an absolute host path`,
    );
  }
  if (!dst.startsWith("/")) {
    throw new UsageError(
      `invalid volume specification "${v}": the container path must be absolute`,
    );
  }
  const opts = mode.split(",");
  for (const o of opts) {
    if (
      !["ro", "rw", "z", "Z", "private", "rprivate", "slave", "rslave", "shared", "rshared"]
        .includes(o)
    ) {
      throw new UsageError(`invalid volume specification "${v}": unknown mode "${o}"`);
    }
  }
  const ro = opts.includes("ro");
  return {
    mount: {
      destination: dst,
      type: "bind",
      source: src,
      options: ["rbind", ro ? "ro" : "rw", "rprivate"],
    },
    point: {
      Type: "bind",
      Source: src,
      Destination: dst,
      Mode: mode,
      RW: !ro,
      Propagation: "rprivate",
    },
  };
}

/** Parses `--ulimit name=soft[:hard]`. */
export function parseUlimit(u: string): Rlimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
  const names: Record<string, string> = {
    core: "RLIMIT_CORE",
    cpu: "RLIMIT_CPU",
    data: "RLIMIT_DATA",
    fsize: "RLIMIT_FSIZE",
    locks: "RLIMIT_LOCKS",
    memlock: "RLIMIT_MEMLOCK",
    msgqueue: "RLIMIT_MSGQUEUE",
    nice: "RLIMIT_NICE",
    nofile: "RLIMIT_NOFILE",
    nproc: "RLIMIT_NPROC",
    rss: "RLIMIT_RSS",
    rtprio: "RLIMIT_RTPRIO",
    rttime: "RLIMIT_RTTIME",
    sigpending: "RLIMIT_SIGPENDING",
    stack: "RLIMIT_STACK",
    as: "RLIMIT_AS",
  };
  if (!m || !names[m[1]]) {
    throw new UsageError(
      `invalid --ulimit "${u}": expected name=soft[:hard], e.g. nofile=1024:2048`,
    );
  }
  const soft = Number(m[2]), hard = m[3] !== undefined ? Number(m[3]) : soft;
  const inf = (n: number) => n < 0 ? 2 ** 64 - 1 : n;
  if (hard >= 0 && soft > hard) {
    throw new UsageError(`invalid --ulimit "${u}": soft limit is above the hard limit`);
  }
  return { type: names[m[1]], soft: inf(soft), hard: inf(hard) };
}

/** The capability set Docker gives for these flags. */
export function capabilities(o: CreateOptions, held: Set<string>): string[] {
  const norm = (c: string) => {
    const n = c.toUpperCase().startsWith("CAP_") ? c.toUpperCase() : `CAP_${c.toUpperCase()}`;
    if (n !== "CAP_ALL" && CAPS[n] === undefined) {
      throw new UsageError(`unknown capability: "${c}"`);
    }
    return n;
  };
  // "All" means all that hako itself holds (Docker does the same): a host whose root lacks
  // a capability (here CAP_SYS_RESOURCE) cannot hand it to a container.
  const all = Object.keys(CAPS).filter((c) => held.has(c));
  if (o.privileged) return all;
  const add = (o.capAdd ?? []).map(norm), drop = (o.capDrop ?? []).map(norm);
  let caps = drop.includes("CAP_ALL") ? [] : DEFAULT_CAPS.filter((c) => held.has(c));
  caps = caps.filter((c) => !drop.includes(c));
  if (add.includes("CAP_ALL")) caps = all;
  for (const c of add) {
    if (c === "CAP_ALL" || caps.includes(c)) continue;
    if (!held.has(c)) {
      throw new UsageError(`cannot add capability ${c}: hako itself does not hold it on this host`);
    }
    caps.push(c);
  }
  return caps;
}

export function restartPolicy(r = "no"): { Name: string; MaximumRetryCount: number } {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(r);
  if (!m || (m[2] && m[1] !== "on-failure")) {
    throw new UsageError(
      `invalid restart policy "${r}": expected no, always, unless-stopped or on-failure[:max-retries]`,
    );
  }
  return { Name: m[1], MaximumRetryCount: Number(m[2] ?? 0) };
}

/** Creates the container; returns its record. */
export async function createContainer(paths: Paths, o: CreateOptions): Promise<Container> {
  // Everything that can be refused is checked before anything is written.
  // Independent reads run together: each is a thread-pool round trip on the start path.
  const [image, held, resolvConf] = await Promise.all([
    o.resolvedImage ?? resolveImage(paths.root, o.image),
    heldCapabilities(),
    hostResolv(),
  ]);
  const ic = image.config.config ?? {};
  const volumes = (o.volumes ?? []).map(parseVolume);
  for (const v of volumes) {
    if (!(await fs.exists(v.mount.source!))) {
      throw new UsageError(
        `invalid volume specification "${v.point.Source}:${v.point.Destination}": bind source path does not exist: ${v.point.Source}`,
      );
    }
  }
  const ulimits = (o.ulimits ?? []).map(parseUlimit);
  const caps = capabilities(o, held);
  if (ulimits.length && !held.has("CAP_SYS_RESOURCE")) await checkUlimits(ulimits, o.ulimits!);
  const policy = restartPolicy(o.restart);
  if (policy.Name !== "no" && o.rm) throw new UsageError("conflicting options: --restart and --rm");
  const stopSignal = o.stopSignal ?? ic.StopSignal ?? "SIGTERM";
  if (parseSignal(stopSignal) === null) throw new UsageError(`invalid stop signal: ${stopSignal}`);
  for (const e of o.env ?? []) {
    if (e.startsWith("=")) throw new UsageError(`invalid environment variable: ${e}`);
  }
  const noNewPrivs = (o.securityOpt ?? []).some((s) => /^no-new-privileges(:true|=true)?$/.test(s));
  for (const s of o.securityOpt ?? []) {
    if (
      !/^no-new-privileges(:(true|false)|=(true|false))?$/.test(s) &&
      !/^(seccomp|apparmor|label)[=:]/.test(s)
    ) {
      throw new UsageError(`invalid --security-opt: ${s}`);
    }
  }

  const entrypoint = o.entrypoint !== undefined
    ? (o.entrypoint ? [o.entrypoint] : [])
    : (ic.Entrypoint ?? []);
  const cmd = o.cmd?.length ? o.cmd : (o.entrypoint !== undefined ? [] : ic.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (!argv.length) throw new UsageError(`no command specified for image ${o.image}`);

  const layers = [...image.layerDirs].reverse();
  const user = await resolveUser(layers, o.user ?? ic.User ?? "");
  const id = randomId();
  const name = o.name ?? randomName();
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new UsageError(
      `invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  const hostname = o.hostname ?? id.slice(0, 12);
  const net = await chooseNetwork(paths, o, {
    name,
    hostname,
    imageExposed: Object.keys(ic.ExposedPorts ?? {}),
    hostResolv: resolvConf,
  });
  const envMap = new Map<string, string>();
  for (const e of [DEFAULT_PATH, ...(ic.Env ?? []), `HOSTNAME=${hostname}`, ...(o.env ?? [])]) {
    const i = e.indexOf("=");
    envMap.set(i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1));
  }
  if (!envMap.has("HOME")) envMap.set("HOME", user.home);
  if (o.tty && !envMap.has("TERM")) envMap.set("TERM", "xterm");
  const env = [...envMap].map(([k, v]) => `${k}=${v}`);
  const cwd = o.workdir || ic.WorkingDir || "/";
  if (!cwd.startsWith("/")) {
    throw new UsageError(
      `the working directory '${cwd}' is invalid: it needs to be an absolute path`,
    );
  }

  const dir = containerDir(paths, id);
  await claimName(paths, name, id);
  try {
    await fs.mkdir(dir);
    await Promise.all([
      fs.mkdir(`${dir}/rootfs`),
      fs.mkdir(`${dir}/upper`),
      fs.mkdir(`${dir}/work`),
      fs.writeFile(`${dir}/hostname`, hostname + "\n"),
      fs.writeFile(`${dir}/hosts`, net.hosts),
      fs.writeFile(`${dir}/resolv.conf`, net.resolv),
    ]);

    const mounts: Mount[] = defaultMounts();
    if (o.privileged) {
      const sys = mounts.find((m) => m.destination === "/sys")!;
      sys.options = sys.options!.filter((x) => x !== "ro");
    }
    if (net.kind === "host") {
      // sysfs of the host's network namespace: bind it, as runc does when not unsharing.
      const i = mounts.findIndex((m) => m.destination === "/sys");
      mounts[i] = {
        destination: "/sys",
        type: "bind",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      };
    }
    for (const f of ["hostname", "hosts", "resolv.conf"]) {
      mounts.push({
        destination: `/etc/${f}`,
        type: "bind",
        source: f === "hosts" && net.shared
          ? net.shared.hosts
          : f === "resolv.conf" && net.shared
          ? net.shared.resolv
          : `${dir}/${f}`,
        options: ["rbind", "rprivate"],
      });
    }
    mounts.push(...volumes.map((v) => v.mount));

    const namespaces: Spec["linux"] = {
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, {
        type: "cgroup",
      }],
      maskedPaths: o.privileged ? [] : DEFAULT_MASKED_PATHS,
      readonlyPaths: o.privileged ? [] : DEFAULT_READONLY_PATHS,
      cgroupsPath: `hako/${id}`,
    };
    if (net.newNamespace) namespaces.namespaces!.push({ type: "network" });
    const lowers = image.layerDirs.slice().reverse().map((d) => relTo(paths.root, d)).join(":");
    const spec: Spec = {
      ociVersion: "1.2.0",
      process: {
        terminal: !!o.tty,
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
        args: argv,
        env,
        cwd,
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        rlimits: ulimits,
        noNewPrivileges: noNewPrivs,
      },
      root: { path: "rootfs", readonly: !!o.readOnly },
      hostname,
      mounts,
      linux: namespaces,
      annotations: {
        [OVERLAY_ANNOTATION]: JSON.stringify({
          cwd: paths.root,
          data: `lowerdir=${lowers},upperdir=${relTo(paths.root, `${dir}/upper`)},workdir=${
            relTo(paths.root, `${dir}/work`)
          }`,
        }),
      },
    };
    const writeSpec = fs.writeJsonAtomic(`${dir}/config.json`, spec);
    const now = new Date().toISOString();
    const c: Container = {
      Id: id,
      Name: `/${name}`,
      Created: now,
      Path: argv[0],
      Args: argv.slice(1),
      Image: image.id,
      State: {
        Status: "created",
        Running: false,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: 0,
        ExitCode: 0,
        Error: "",
        StartedAt: ZERO_TIME,
        FinishedAt: ZERO_TIME,
      },
      Config: {
        Hostname: hostname,
        User: o.user ?? ic.User ?? "",
        Env: env,
        Cmd: cmd.length ? cmd : null,
        Entrypoint: entrypoint.length ? entrypoint : null,
        WorkingDir: cwd,
        Image: o.image,
        Labels: Object.fromEntries(
          (o.labels ?? []).map((l) => [l.split("=")[0], l.split("=").slice(1).join("=")]),
        ),
        Tty: !!o.tty,
        OpenStdin: !!o.interactive,
        StopSignal: stopSignal,
        ...(Object.keys(net.exposedPorts).length ? { ExposedPorts: net.exposedPorts } : {}),
      },
      HostConfig: {
        Binds: o.volumes ?? [],
        AutoRemove: !!o.rm,
        NetworkMode: net.mode,
        ...net.hostConfig,
        RestartPolicy: policy,
        Privileged: !!o.privileged,
        CapAdd: o.capAdd ?? [],
        CapDrop: o.capDrop ?? [],
        SecurityOpt: o.securityOpt ?? [],
        ReadonlyRootfs: !!o.readOnly,
        Ulimits: (o.ulimits ?? []).map((u, i) => ({
          Name: u.split("=")[0],
          Soft: ulimits[i].soft,
          Hard: ulimits[i].hard,
        })),
        ...(o.resources ?? {}),
      },
      Mounts: volumes.map((v) => v.point),
      NetworkSettings: { Networks: net.networks, IPAddress: "", Ports: {} },
      LogPath: `${dir}/container.log`,
      HostnamePath: `${dir}/hostname`,
      HostsPath: `${dir}/hosts`,
      ResolvConfPath: `${dir}/resolv.conf`,
      RestartCount: 0,
      Hako: { StartTicks: 0, MonitorPid: 0, StoppedByUser: false, Cgroup: id, Limits: o.limits },
    };
    await Promise.all([writeSpec, writeRecord(paths, c)]);
    return c;
  } catch (e) {
    await fs.remove(dir, { recursive: true });
    await releaseName(paths, name, id);
    throw e;
  }
}

const LIMIT_NAMES: Record<string, string> = {
  RLIMIT_CPU: "Max cpu time",
  RLIMIT_FSIZE: "Max file size",
  RLIMIT_DATA: "Max data size",
  RLIMIT_STACK: "Max stack size",
  RLIMIT_CORE: "Max core file size",
  RLIMIT_RSS: "Max resident set",
  RLIMIT_NPROC: "Max processes",
  RLIMIT_NOFILE: "Max open files",
  RLIMIT_MEMLOCK: "Max locked memory",
  RLIMIT_AS: "Max address space",
  RLIMIT_LOCKS: "Max file locks",
  RLIMIT_SIGPENDING: "Max pending signals",
  RLIMIT_MSGQUEUE: "Max msgqueue size",
  RLIMIT_NICE: "Max nice priority",
  RLIMIT_RTPRIO: "Max realtime priority",
  RLIMIT_RTTIME: "Max realtime timeout",
};

/**
 * Without CAP_SYS_RESOURCE no process may raise a hard limit above its own (podman's default
 * nofile of 1048576 fails that way on such hosts): refuse it up front with a clear error.
 */
async function checkUlimits(limits: Rlimit[], given: string[]): Promise<void> {
  const text = await fs.readText("/proc/self/limits").catch(() => "");
  limits.forEach((l, i) => {
    const row = text.split("\n").find((r) => r.startsWith(LIMIT_NAMES[l.type] + " "));
    const hard = row?.slice(26).trim().split(/\s+/)[1];
    if (!hard || hard === "unlimited") return;
    if (l.hard > Number(hard)) {
      throw new UsageError(
        `invalid --ulimit "${
          given[i]
        }": the hard limit is above this host's ${hard} and hako lacks CAP_SYS_RESOURCE to raise it`,
      );
    }
  });
}

/** The capabilities in hako's own bounding set (/proc/self/status CapBnd). */
export async function heldCapabilities(): Promise<Set<string>> {
  const status = await fs.readText("/proc/self/status").catch(() => "");
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  const mask = hex ? BigInt("0x" + hex) : (1n << 41n) - 1n;
  return new Set(Object.keys(CAPS).filter((c) => (mask >> BigInt(CAPS[c])) & 1n));
}

function relTo(base: string, p: string): string {
  return p.startsWith(base + "/") ? p.slice(base.length + 1) : p;
}
