/**
 * Dockerfile instructions that change only the image config: ENV, LABEL, EXPOSE, VOLUME,
 * WORKDIR, USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, MAINTAINER, ONBUILD.
 * Used by build and by `commit --change`.
 */

import { UsageError } from "../errors.ts";
import type { ContainerConfig, ImageConfig } from "../image/oci.ts";
import { parseSignal } from "../runtime/linux.ts";
import { type Instruction, lineError } from "./dockerfile.ts";
import { expandWord, expandWords, keyValues, type Lookup } from "./words.ts";

/** The instructions this module handles. */
export const CONFIG_STEPS = new Set([
  "ENV",
  "LABEL",
  "EXPOSE",
  "VOLUME",
  "WORKDIR",
  "USER",
  "CMD",
  "ENTRYPOINT",
  "SHELL",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "MAINTAINER",
  "ONBUILD",
]);

/** The default SHELL. */
export const DEFAULT_SHELL = ["/bin/sh", "-c"];

/** State a config step needs besides the config. */
export interface ConfigContext {
  lookup: Lookup;
  escape: string;
  /** Set when CMD was given in this stage (ENTRYPOINT then keeps it). */
  cmdSet?: boolean;
}

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split("=")[0] !== key);
  out.push(`${key}=${value}`);
  return out;
}

/** Reads a Go duration ("30s", "1m30s", "500ms") as nanoseconds. */
function durationNs(s: string, err: (m: string) => Error): number {
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    "µs": 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9,
  };
  let total = 0, rest = s;
  if (s === "0") return 0;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw err(`invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

function normalizePort(p: string, err: (m: string) => Error): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw err(`invalid port ${JSON.stringify(p)}`);
  const lo = Number(m[1]), hi = m[2] ? Number(m[2]) : lo;
  if (lo < 1 || hi > 65535 || hi < lo) throw err(`invalid port range ${JSON.stringify(p)}`);
  const proto = (m[3] ?? "tcp").toLowerCase();
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${proto}`);
}

/** The shell-form argv for a command (CMD, ENTRYPOINT, RUN, HEALTHCHECK). */
export function commandArgv(ins: Instruction, cfg: ContainerConfig, text = ins.args): string[] {
  if (ins.json && text === ins.args) return ins.json;
  const shell = (cfg.Shell as string[] | undefined) ?? DEFAULT_SHELL;
  return [...shell, text];
}

/**
 * Applies a config-only instruction to `config`; returns the history text (what
 * `hako history` shows in CREATED BY).
 */
export function applyConfigStep(
  ins: Instruction,
  config: ImageConfig,
  ctx: ConfigContext,
): string {
  const err = (m: string) => lineError(ins.file, ins.line, m);
  const c = (config.config ??= {});
  const words = () => expandWords(ins.args, ctx.lookup, ctx.escape);
  switch (ins.cmd) {
    case "ENV": {
      const kv = keyValues(ins.args, ctx.lookup, ctx.escape);
      let env = c.Env ?? [];
      const shown: string[] = [];
      for (const [k, v] of kv) {
        if (!k) throw err("ENV names must not be empty");
        if (v === undefined) throw err(`ENV ${k} needs a value (ENV ${k}=value)`);
        env = setEnv(env, k, v);
        shown.push(`${k}=${v}`);
      }
      c.Env = env;
      return `ENV ${shown.join(" ")}`;
    }
    case "LABEL": {
      const labels = { ...(c.Labels ?? {}) };
      const shown: string[] = [];
      for (const [k, v] of keyValues(ins.args, ctx.lookup, ctx.escape)) {
        if (!k) throw err("LABEL names must not be empty");
        if (v === undefined) throw err(`LABEL ${k} needs a value (LABEL ${k}=value)`);
        labels[k] = v;
        shown.push(`${k}=${v}`);
      }
      c.Labels = labels;
      return `LABEL ${shown.join(" ")}`;
    }
    case "EXPOSE": {
      const ports = { ...(c.ExposedPorts ?? {}) };
      const list = words();
      for (const p of list) for (const n of normalizePort(p, err)) ports[n] = {};
      c.ExposedPorts = ports;
      return `EXPOSE ${list.join(" ")}`;
    }
    case "VOLUME": {
      const list = ins.json ?? words();
      if (list.some((v) => v.trim() === "")) {
        throw err("VOLUME specified can not be an empty string");
      }
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of list) vols[v] = {};
      c.Volumes = vols;
      return `VOLUME [${list.map((v) => JSON.stringify(v)).join(" ")}]`;
    }
    case "WORKDIR": {
      const w = expandWord(ins.args, ctx.lookup, ctx.escape);
      const base = c.WorkingDir || "/";
      const abs = w.startsWith("/") ? w : `${base.replace(/\/+$/, "")}/${w}`;
      const clean = "/" + abs.split("/").filter((x) => x && x !== ".").reduce<string[]>(
        (a, x) => (x === ".." ? a.slice(0, -1) : [...a, x]),
        [],
      ).join("/");
      c.WorkingDir = clean;
      return `WORKDIR ${clean}`;
    }
    case "USER": {
      const u = expandWord(ins.args, ctx.lookup, ctx.escape);
      if (!u) throw err("USER requires a user name or id");
      c.User = u;
      return `USER ${u}`;
    }
    case "CMD": {
      c.Cmd = commandArgv(ins, c);
      ctx.cmdSet = true;
      return `CMD ${JSON.stringify(c.Cmd)}`;
    }
    case "ENTRYPOINT": {
      c.Entrypoint = ins.args.trim() === "" ? null : commandArgv(ins, c);
      // An ENTRYPOINT resets a CMD inherited from the base image (Docker's rule).
      if (!ctx.cmdSet) c.Cmd = null;
      return `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`;
    }
    case "SHELL":
      c.Shell = ins.json!;
      return `SHELL ${JSON.stringify(ins.json)}`;
    case "STOPSIGNAL": {
      const s = expandWord(ins.args, ctx.lookup, ctx.escape);
      if (parseSignal(s) === null) throw err(`invalid stop signal: ${s}`);
      c.StopSignal = s;
      return `STOPSIGNAL ${s}`;
    }
    case "HEALTHCHECK": {
      const kind = ins.args.split(/\s+/)[0].toUpperCase();
      if (kind === "NONE") {
        c.Healthcheck = { Test: ["NONE"] };
        return "HEALTHCHECK NONE";
      }
      const cmdText = ins.args.trim().slice(3).trim();
      const json = cmdText.startsWith("[") ? JSON.parse(cmdText) as string[] : null;
      const hc: Record<string, unknown> = {
        Test: json ? ["CMD", ...json] : ["CMD-SHELL", cmdText],
      };
      const f = ins.flags;
      if (f.interval) hc.Interval = durationNs(f.interval, err);
      if (f.timeout) hc.Timeout = durationNs(f.timeout, err);
      if (f["start-period"]) hc.StartPeriod = durationNs(f["start-period"], err);
      if (f["start-interval"]) hc.StartInterval = durationNs(f["start-interval"], err);
      if (f.retries) {
        const n = Number(f.retries);
        if (!Number.isInteger(n) || n < 0) throw err(`invalid --retries ${f.retries}`);
        hc.Retries = n;
      }
      c.Healthcheck = hc;
      return `HEALTHCHECK ${ins.args}`;
    }
    case "MAINTAINER":
      config.author = expandWord(ins.args, ctx.lookup, ctx.escape);
      return `MAINTAINER ${config.author}`;
    case "ONBUILD":
      c.OnBuild = [...((c.OnBuild as string[] | undefined) ?? []), ins.args];
      return `ONBUILD ${ins.args}`;
  }
  throw err(`${ins.cmd} is not a config instruction`);
}

/**
 * Applies `--change` lines (Dockerfile config instructions) to a config, for commit and
 * import.
 */
export async function applyChanges(config: ImageConfig, changes: string[]): Promise<void> {
  const { parseDockerfile } = await import("./dockerfile.ts");
  const env = () =>
    new Map((config.config?.Env ?? []).map((e) => [e.split("=")[0], e.slice(e.indexOf("=") + 1)]));
  for (const ch of changes) {
    const df = parseDockerfile(`FROM scratch\n${ch}`, "--change");
    for (const ins of df.instructions.slice(1)) {
      if (!CONFIG_STEPS.has(ins.cmd) || ins.cmd === "MAINTAINER") {
        throw new UsageError(`--change: ${ins.cmd} cannot be changed on commit`);
      }
      applyConfigStep(ins, config, {
        lookup: (n) => env().get(n),
        escape: df.escape,
        cmdSet: true,
      });
    }
  }
}
