/** Container commands: ps, start, stop, kill, wait, rm, logs, inspect. */

import { writeErr, writeOut } from "../../ffi/host.ts";
import * as fs from "../../ffi/fs.ts";
import {
  getContainer,
  killContainer,
  listContainers,
  removeContainer,
  startContainer,
  stopContainer,
  waitContainer,
} from "../engine/control.ts";
import type { Paths } from "../engine/paths.ts";
import type { Container } from "../engine/record.ts";
import { HakoError, NotFoundError, UsageError } from "../errors.ts";
import { resolveImage } from "../image/resolve.ts";
import {
  ago,
  applyFormat,
  humanDuration,
  printJson,
  printJsonLine,
  printTable,
  shortCommand,
} from "./format.ts";
import { needArgs, parse } from "./parse.ts";
import { parseSignal } from "../runtime/linux.ts";
import { portsColumn } from "../net/ports.ts";

function status(c: Container): string {
  const s = c.State;
  if (s.Running) return `Up ${humanDuration(Date.now() - new Date(s.StartedAt).getTime())}`;
  if (s.Status === "created") return "Created";
  return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)}`;
}

/** The row `ps --format json` prints, like docker's. */
function psRow(c: Container) {
  return {
    ID: c.Id.slice(0, 12),
    Image: c.Config.Image,
    Command: shortCommand(c.Path, c.Args),
    CreatedAt: c.Created,
    RunningFor: ago(c.Created),
    Status: status(c),
    State: c.State.Status,
    Names: c.Name.slice(1),
    Ports: portsColumn(c.NetworkSettings?.Ports),
    Labels: Object.entries(c.Config.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
  };
}

/** `hako ps`. */
export async function ps(paths: Paths, argv: string[]) {
  const a = parse("ps", {
    "--all": Boolean,
    "-a": "--all",
    "--quiet": Boolean,
    "-q": "--quiet",
    "--no-trunc": Boolean,
    "--format": String,
    "--filter": [String],
    "-f": "--filter",
  }, argv);
  let list = await listContainers(paths, !!a["--all"]);
  for (const f of a["--filter"] ?? []) {
    const [k, v] = f.split("=");
    if (k === "name") list = list.filter((c) => c.Name.slice(1).includes(v));
    else if (k === "status") list = list.filter((c) => c.State.Status === v);
    else if (k === "id") list = list.filter((c) => c.Id.startsWith(v));
    else throw new UsageError(`invalid filter '${f}'`);
  }
  if (a["--quiet"]) {
    writeOut(list.map((c) => (a["--no-trunc"] ? c.Id : c.Id.slice(0, 12)) + "\n").join(""));
    return 0;
  }
  const fmt = a["--format"];
  if (fmt === "json") {
    for (const c of list) printJsonLine(psRow(c));
    return 0;
  }
  if (fmt) {
    writeOut(list.map((c) => applyFormat(fmt, psRow(c)) + "\n").join(""));
    return 0;
  }
  printTable(
    ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
    list.map((c) => {
      const r = psRow(c);
      return [
        a["--no-trunc"] ? c.Id : r.ID,
        r.Image,
        r.Command,
        r.RunningFor,
        r.Status,
        r.Ports,
        r.Names,
      ];
    }),
  );
  return 0;
}

/** Runs `fn` for each named container, printing errors docker-style; exit 1 if any failed. */
async function each(names: string[], fn: (n: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const n of names) {
    try {
      await fn(n);
    } catch (e) {
      if (!(e instanceof HakoError)) throw e;
      writeErr(`Error response from daemon: ${e.message}\n`);
      code = 1;
    }
  }
  return code;
}

/** `hako start`. */
export async function start(paths: Paths, argv: string[]) {
  const a = parse("start", { "--attach": Boolean, "-a": "--attach" }, argv);
  needArgs("start", a._, 1, "[OPTIONS] CONTAINER [CONTAINER...]");
  return await each(a._, async (n) => {
    await startContainer(paths, n);
    writeOut(n + "\n");
  });
}

/** `hako stop`. */
export async function stop(paths: Paths, argv: string[]) {
  const a = parse("stop", { "--time": Number, "-t": "--time", "--timeout": "--time" }, argv);
  needArgs("stop", a._, 1, "[OPTIONS] CONTAINER [CONTAINER...]");
  return await each(a._, async (n) => {
    await stopContainer(paths, n, a["--time"] ?? 10);
    writeOut(n + "\n");
  });
}

/** `hako kill`. */
export async function kill(paths: Paths, argv: string[]) {
  const a = parse("kill", { "--signal": String, "-s": "--signal" }, argv);
  needArgs("kill", a._, 1, "[OPTIONS] CONTAINER [CONTAINER...]");
  if (parseSignal(a["--signal"] ?? "KILL") === null) {
    throw new UsageError(`invalid signal: ${a["--signal"]}`);
  }
  return await each(a._, async (n) => {
    await killContainer(paths, n, a["--signal"] ?? "KILL");
    writeOut(n + "\n");
  });
}

/** `hako wait`. */
export async function wait(paths: Paths, argv: string[]) {
  const a = parse("wait", {}, argv);
  needArgs("wait", a._, 1, "CONTAINER [CONTAINER...]");
  return await each(a._, async (n) => {
    writeOut(`${await waitContainer(paths, n)}\n`);
  });
}

/** `hako rm`. */
export async function rm(paths: Paths, argv: string[]) {
  const a = parse("rm", {
    "--force": Boolean,
    "-f": "--force",
    "--volumes": Boolean,
    "-v": "--volumes",
  }, argv);
  needArgs("rm", a._, 1, "[OPTIONS] CONTAINER [CONTAINER...]");
  return await each(a._, async (n) => {
    await removeContainer(paths, n, !!a["--force"]);
    writeOut(n + "\n");
  });
}

/** `hako inspect`: containers, then images, in Docker's JSON shape. */
export async function inspect(paths: Paths, argv: string[]) {
  const a = parse("inspect", { "--format": String, "-f": "--format", "--type": String }, argv);
  needArgs("inspect", a._, 1, "[OPTIONS] NAME|ID [NAME|ID...]");
  const out: unknown[] = [];
  let code = 0;
  for (const n of a._) {
    try {
      if (a["--type"] !== "image") {
        try {
          out.push(await getContainer(paths, n));
          continue;
        } catch (e) {
          if (!(e instanceof NotFoundError) || a["--type"] === "container") throw e;
        }
      }
      const img = await resolveImage(paths.root, n).catch(() => {
        throw new NotFoundError(`no such object: ${n}`);
      });
      out.push({
        Id: img.id,
        RepoTags: img.repoTags,
        RepoDigests: [],
        Created: img.config.created ?? "",
        Architecture: img.config.architecture,
        Os: img.config.os,
        Config: img.config.config ?? {},
        RootFS: { Type: "layers", Layers: img.config.rootfs?.diff_ids ?? [] },
      });
    } catch (e) {
      if (!(e instanceof HakoError)) throw e;
      writeErr(`Error: ${e.message}\n`);
      code = 1;
    }
  }
  const fmt = a["--format"];
  if (fmt) {
    // deno-lint-ignore no-explicit-any
    writeOut(out.map((o) => applyFormat(fmt, o as any) + "\n").join(""));
  } else printJson(out);
  return code;
}

/** `hako logs`. */
export async function logs(paths: Paths, argv: string[]) {
  const a = parse("logs", {
    "--follow": Boolean,
    "-f": "--follow",
    "--timestamps": Boolean,
    "-t": "--timestamps",
    "--tail": String,
    "-n": "--tail",
  }, argv);
  needArgs("logs", a._, 1, "[OPTIONS] CONTAINER");
  const c = await getContainer(paths, a._[0]);
  const tail = a["--tail"] && a["--tail"] !== "all" ? Number(a["--tail"]) : -1;
  if (Number.isNaN(tail)) {
    throw new UsageError(`invalid value "${a["--tail"]}" for --tail: expected a number or "all"`);
  }
  let offset = 0;
  let first = true;
  const dec = new TextDecoder();
  let carry = "";
  for (;;) {
    const data = await fs.readFile(c.LogPath).catch(() => new Uint8Array());
    if (data.length > offset) {
      const text = carry + dec.decode(data.subarray(offset));
      offset = data.length;
      const lines = text.split("\n");
      carry = lines.pop()!;
      let rows = lines.filter(Boolean);
      if (first && tail >= 0) rows = tail === 0 ? [] : rows.slice(-tail);
      // Lines go to the stream they came from, in the order they were logged.
      for (const l of rows) {
        const e = JSON.parse(l) as { log: string; stream: string; time: string };
        const s = (a["--timestamps"] ? e.time + " " : "") + e.log;
        if (e.stream === "stderr") writeErr(s);
        else writeOut(s);
      }
    }
    first = false;
    if (!a["--follow"]) return 0;
    const now = await getContainer(paths, c.Id).catch(() => null);
    if (!now || (!now.State.Running && !now.State.Restarting)) {
      const again = await fs.readFile(c.LogPath).catch(() => new Uint8Array());
      if (again.length <= offset) return 0;
      continue;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
