/** `hako top`: the processes of a container, host and container pids side by side. */

import { writeOut } from "../../ffi/host.ts";
import type { Paths } from "../engine/paths.ts";
import { containerProcesses, type TopProcess } from "../engine/top.ts";
import { UsageError } from "../errors.ts";
import { printTable } from "./format.ts";
import { needArgs, parse } from "./parse.ts";

export const TOP_USAGE = `Usage:  hako top CONTAINER

Display the running processes of a container

Columns are those of ps -ef, with CPID, the process id inside the container, after PPID.
`;

function stime(ms: number): string {
  const d = new Date(ms), now = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  if (d.toDateString() === now.toDateString()) return `${p(d.getHours())}:${p(d.getMinutes())}`;
  return d.toLocaleString("en-US", { month: "short", day: "2-digit" }).replace(" ", "");
}

function cputime(s: number): string {
  const t = Math.floor(s), d = Math.floor(t / 86400);
  const hms = [Math.floor(t / 3600) % 24, Math.floor(t / 60) % 60, t % 60]
    .map((n) => String(n).padStart(2, "0")).join(":");
  return d ? `${d}-${hms}` : hms;
}

/** The table rows for `processes`. */
export function topRows(processes: TopProcess[]): string[][] {
  return processes.map((p) => [
    p.user,
    String(p.pid),
    String(p.ppid),
    String(p.containerPid),
    String(p.cpu),
    stime(p.started),
    p.tty,
    cputime(p.cpuSeconds),
    p.cmd,
  ]);
}

/** `hako top`. */
export async function top(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("top", { "--help": Boolean }, argv, true);
  if (a["--help"]) {
    writeOut(TOP_USAGE);
    return 0;
  }
  needArgs("top", a._, 1, "CONTAINER");
  if (a._.length > 1) throw new UsageError("top: ps options are not supported");
  const rows = topRows(await containerProcesses(paths, a._[0]));
  printTable(["UID", "PID", "PPID", "CPID", "C", "STIME", "TTY", "TIME", "CMD"], rows);
  return 0;
}
