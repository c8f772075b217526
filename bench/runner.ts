/**
 * The measuring loop every timed group shares: warm-up runs, then N counted rounds in which
 * every case runs once, in an order that rotates each round so slow drift of the host
 * (page cache, thermal, a neighbour's load) hits all cases alike.
 *
 * A bench never passes or fails: a case that cannot run becomes a row that says why.
 *
 * @module
 */

import { lastLines, runCommand, type RunResult, shellQuote } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

/** Where a row belongs in tables and the chart. */
export type Kind = "floor" | "hako" | "container" | "vm" | "reference" | "tool";

/** One command to time. */
export interface Case {
  /** Stable identifier ("crun", "podman-none", "qemu-microvm-tcg"). */
  id: string;
  /** Row label. */
  label: string;
  kind: Kind;
  /** Exactly what runs (shown in the report so a reader can paste it). */
  argv: string[];
  /** An adjustment made for this host, shown next to the row. */
  note?: string;
  /** Why this case is not measured (peer not found and how to get it, command missing). */
  skip?: string;
  /** Also time the moment this text appears in the output (a VM's /init marker). */
  marker?: string;
  /** Label suffixes of the two rows of a marker case. */
  markerLabels?: [marker: string, exit: string];
  /** Kill a run after this many milliseconds. */
  timeoutMs?: number;
  /** Shorter timeout of the first (probe) run, when a hang there should skip the case. */
  probeTimeoutMs?: number;
  /** Untimed work before each run (e.g. remove the previous run's output). */
  prepare?: () => Promise<void>;
  /** Untimed work after each run. */
  cleanup?: () => Promise<void>;
  /** A failure reason for a run that exited 0 but did not do its job, or null. */
  check?: (r: RunResult) => string | null;
  /** Explains a failed probe (e.g. what KVM said), given the run's output. */
  explain?: (r: RunResult) => string | null;
  /** Extra columns for this case's rows. */
  extra?: Record<string, string | number>;
}

/** One line of a table: a measured, skipped or failed case (or a published reference). */
export interface Row {
  id: string;
  label: string;
  kind: Kind;
  /** The command as a shell line (empty for references). */
  command: string;
  note?: string;
  status: "measured" | "skipped" | "failed" | "reference";
  /** Why skipped or failed. */
  reason?: string;
  /** What the samples time ("launch to exit", "launch to /init marker"). */
  metric: string;
  /** Every counted sample, in milliseconds (or the group's unit). */
  samples: number[];
  /** Runs that failed among the counted ones. */
  failures: number;
  summary: Summary | null;
  /** median ÷ the baseline row's median, when both are measured. */
  ratio?: number;
  /** A published figure: the value and where it comes from. */
  reference?: { value: number; source: string; url?: string };
  extra?: Record<string, string | number>;
}

/** Options of `measure`. */
export interface MeasureOptions {
  runs: number;
  warmup: number;
  /** Progress lines. */
  log: (line: string) => void;
  /** Group name for progress lines. */
  group: string;
  /** Set by an interrupt: stop after the current run. */
  stopped?: () => boolean;
}

interface State {
  c: Case;
  samples: number[];
  markerSamples: number[];
  failures: number;
  consecutive: number;
  reason?: string;
  dead: boolean;
  skipped?: string;
}

const MAX_CONSECUTIVE_FAILURES = 3;

function failure(c: Case, r: RunResult): string | null {
  if (r.timedOut) {
    const why = c.explain?.(r) ?? lastLines(r.output, 2);
    return `timed out after ${((c.probeTimeoutMs ?? c.timeoutMs ?? 120_000) / 1000).toFixed(0)} s${
      why ? `: ${why}` : ""
    }`;
  }
  if (r.code !== 0) {
    const how = r.code === null ? `was killed by signal ${r.signal}` : `exited ${r.code}`;
    const why = c.explain?.(r) ?? lastLines(r.output, 2);
    return `${how}${why ? `: ${why}` : ""}`;
  }
  if (c.marker !== undefined && r.markerMs === undefined) {
    return `exited without printing ${JSON.stringify(c.marker)}: ${lastLines(r.output, 2)}`;
  }
  return c.check?.(r) ?? null;
}

async function once(s: State, probe: boolean): Promise<RunResult | null> {
  const c = s.c;
  let r: RunResult | undefined;
  let why: string | null = null;
  try {
    await c.prepare?.();
    r = await runCommand(c.argv, {
      timeoutMs: probe ? c.probeTimeoutMs ?? c.timeoutMs : c.timeoutMs,
      marker: c.marker,
    });
  } catch (e) {
    why = `setting up the run failed: ${(e as Error).message.replace(/\s+/g, " ").slice(0, 300)}`;
  } finally {
    await c.cleanup?.().catch(() => {});
  }
  if (r && !why) why = failure(c, r);
  if (why) {
    s.failures++;
    s.consecutive++;
    s.reason = why;
    if (probe || s.consecutive >= MAX_CONSECUTIVE_FAILURES) s.dead = true;
    return null;
  }
  s.consecutive = 0;
  return r!;
}

/**
 * Runs every case `warmup` times, then `runs` counted rounds, rotating the order each
 * round; returns one row per case (two for a marker case: to marker, to exit).
 */
export async function measure(cases: Case[], o: MeasureOptions): Promise<Row[]> {
  const states: State[] = cases.map((c) => ({
    c,
    samples: [],
    markerSamples: [],
    failures: 0,
    consecutive: 0,
    dead: !!c.skip,
    skipped: c.skip,
  }));
  const live = () => states.filter((s) => !s.dead);
  // The first round also probes: a case failing there is dropped with the reason. With no
  // warm-up it is counted.
  const rounds = o.warmup + Math.max(1, o.runs);
  for (let round = 0; round < rounds && !o.stopped?.(); round++) {
    const warm = round < o.warmup;
    const order = live();
    const k = order.length ? round % order.length : 0;
    for (const s of [...order.slice(k), ...order.slice(0, k)]) {
      if (o.stopped?.()) break;
      const r = await once(s, round === 0);
      const tag = warm ? `warm-up ${round + 1}` : `run ${round - o.warmup + 1}/${o.runs}`;
      if (!r) {
        o.log(`${o.group}: ${tag}: ${s.c.label}: ${s.dead ? "dropped: " : ""}${s.reason}`);
        continue;
      }
      if (!warm) {
        // A failure during the warm-up is not counted against a case that later runs fine.
        s.samples.push(r.ms);
        if (r.markerMs !== undefined) s.markerSamples.push(r.markerMs);
      } else s.failures = 0;
      const m = r.markerMs !== undefined ? ` (marker ${r.markerMs.toFixed(1)} ms)` : "";
      o.log(`${o.group}: ${tag}: ${s.c.label}: ${r.ms.toFixed(1)} ms${m}`);
    }
  }
  return states.flatMap((s) => rowsOf(s));
}

function rowsOf(s: State): Row[] {
  const c = s.c;
  const base = {
    id: c.id,
    kind: c.kind,
    command: shellQuote(c.argv),
    note: c.note,
    extra: c.extra,
  };
  const status: Row["status"] = s.skipped
    ? "skipped"
    : s.samples.length === 0
    ? "failed"
    : "measured";
  const reason = s.skipped ?? (status === "failed" ? s.reason : undefined);
  const failures = status === "measured" ? s.failures : 0;
  if (c.marker === undefined) {
    return [{
      ...base,
      label: c.label,
      status,
      reason,
      metric: "launch to exit",
      samples: s.samples,
      failures,
      summary: summarize(s.samples),
      ...(status === "measured" && failures
        ? { reason: `${failures} run(s) failed: ${s.reason}` }
        : {}),
    }];
  }
  if (status !== "measured") {
    // Nothing was timed: one row says why, rather than one per metric.
    return [{
      ...base,
      label: c.label,
      status,
      reason,
      metric: "launch to marker and to exit",
      samples: [],
      failures: 0,
      summary: null,
    }];
  }
  const [ml, el] = c.markerLabels ?? ["to /init marker", "to exit"];
  return [
    {
      ...base,
      id: `${c.id}:marker`,
      label: `${c.label}, ${ml}`,
      status,
      reason,
      metric: "launch to marker",
      samples: s.markerSamples,
      failures,
      summary: summarize(s.markerSamples),
    },
    {
      ...base,
      id: `${c.id}:exit`,
      label: `${c.label}, ${el}`,
      status,
      reason,
      metric: "launch to exit",
      samples: s.samples,
      failures,
      summary: summarize(s.samples),
    },
  ];
}

/** Sets `ratio` on every measured row: its median over the baseline row's median. */
export function addRatios(rows: Row[], baselineId: string): void {
  const b = rows.find((r) => r.id === baselineId && r.summary);
  // Published references get no ratio: they are never mixed with measurements.
  for (const r of rows) {
    if (b?.summary && r.summary) r.ratio = r.summary.median / b.summary.median;
  }
}

/** A row for a case that is not run at all (so it still shows, with the reason). */
export function skippedRow(
  id: string,
  label: string,
  kind: Kind,
  reason: string,
  argv: string[] = [],
  metric = "launch to exit",
): Row {
  return {
    id,
    label,
    kind,
    command: argv.length ? shellQuote(argv) : "",
    status: "skipped",
    reason,
    metric,
    samples: [],
    failures: 0,
    summary: null,
  };
}
