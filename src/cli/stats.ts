/**
 * `hako stats`: a live table of containers' resource use, like `docker stats`, refreshed
 * every second; `--no-stream` prints one table (after one interval, so CPU % has two samples
 * to compare), `--format json` one JSON object per container, `-a` includes stopped ones.
 */

import { isTerminal, writeOut } from "../../ffi/host.ts";
import { listContainers } from "../engine/control.ts";
import type { Paths } from "../engine/paths.ts";
import { type Container, findId, loadRecord } from "../engine/record.ts";
import {
  blockIO,
  type ContainerStats,
  cpuPercent,
  memoryPercent,
  memoryUsage,
  networkIO,
  sampleContainer,
} from "../engine/stats.ts";
import { HakoError, NotFoundError } from "../errors.ts";
import { applyFormat, humanSize, printTable } from "./format.ts";
import { parse } from "./parse.ts";

/** Sampling interval, as Docker's stats collector uses. */
const INTERVAL_MS = 1000;

const USAGE = `Usage:  hako stats [OPTIONS] [CONTAINER...]

Display a live stream of container(s) resource usage statistics

Options:
  -a, --all             Show all containers (default shows just running)
      --format string   Format output using a custom template:
                        'table':            Print output in table format with column headers (default)
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given Go template
      --no-stream       Disable streaming stats and only pull the first result
      --no-trunc        Do not truncate output
`;

/** Docker's binary sizes for memory: "1.5MiB", "1.944GiB" (units.BytesSize, %.4g). */
export function binarySize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The row Docker's `stats --format json` prints (its field names, its strings). */
export function statsRow(s: ContainerStats, noTrunc = false) {
  const net = networkIO(s), blk = blockIO(s);
  const id = noTrunc ? s.id : s.id.slice(0, 12);
  return {
    BlockIO: `${humanSize(blk.read)} / ${humanSize(blk.write)}`,
    CPUPerc: `${cpuPercent(s).toFixed(2)}%`,
    Container: id,
    ID: id,
    MemPerc: `${memoryPercent(s).toFixed(2)}%`,
    MemUsage: `${binarySize(memoryUsage(s))} / ${binarySize(s.memory_stats.limit)}`,
    Name: s.name.replace(/^\//, ""),
    NetIO: `${humanSize(net.rx)} / ${humanSize(net.tx)}`,
    PIDs: String(s.pids_stats.current),
  };
}

const HEADER = [
  "CONTAINER ID",
  "NAME",
  "CPU %",
  "MEM USAGE / LIMIT",
  "MEM %",
  "NET I/O",
  "BLOCK I/O",
  "PIDS",
];

function render(samples: ContainerStats[], format: string | undefined, noTrunc: boolean) {
  const rows = samples.map((s) => statsRow(s, noTrunc));
  if (format === "json") {
    writeOut(rows.map((r) => JSON.stringify(r) + "\n").join(""));
  } else if (format && format !== "table") {
    writeOut(rows.map((r) => applyFormat(format.replace(/^table\s+/, ""), r) + "\n").join(""));
  } else {
    printTable(
      HEADER,
      rows.map((r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs]),
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `hako stats`. */
export async function stats(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("stats", {
    "--all": Boolean,
    "-a": "--all",
    "--no-stream": Boolean,
    "--no-trunc": Boolean,
    "--format": String,
    "--help": Boolean,
  }, argv);
  if (a["--help"]) {
    writeOut(USAGE);
    return 0;
  }
  const format = a["--format"];
  const noTrunc = !!a["--no-trunc"];
  // Named containers are resolved once (an unknown one is an error, as in docker); without
  // names the list is taken again every interval, so containers started meanwhile show up.
  let named: string[] | null = null;
  if (a._.length > 0) {
    named = [];
    for (const ref of a._) {
      try {
        named.push(await findId(paths, ref));
      } catch (e) {
        if (e instanceof NotFoundError) throw new NotFoundError(`no such container: ${ref}`);
        throw e;
      }
    }
  }
  const current = async (): Promise<Container[]> => {
    if (!named) return await listContainers(paths, !!a["--all"]);
    const out: Container[] = [];
    for (const id of named) {
      const c = await loadRecord(paths, id).catch((e) => {
        if (e instanceof HakoError) return null;
        throw e;
      });
      if (c) out.push(c);
    }
    return out;
  };
  let prev = new Map<string, ContainerStats>();
  for (const c of await current()) prev.set(c.Id, await sampleContainer(c));
  const tty = isTerminal(1);
  for (;;) {
    await sleep(INTERVAL_MS);
    const next = new Map<string, ContainerStats>();
    for (const c of await current()) next.set(c.Id, await sampleContainer(c, prev.get(c.Id)));
    prev = next;
    // Docker clears the screen and redraws on a terminal; piped output gets one table a tick.
    if (tty && !a["--no-stream"]) writeOut("\x1b[H\x1b[2J");
    render([...next.values()], format, noTrunc);
    if (a["--no-stream"]) return 0;
  }
}
