/**
 * What a bench group is and what it is given: the scratch directory, the peers found, the
 * run counts, a progress log and a place to register teardown that must run even when the
 * bench is interrupted.
 *
 * @module
 */

import type { Peers } from "./peers.ts";
import type { Row } from "./runner.ts";

/** Everything a group needs from the bench. */
export interface Context {
  /** The repository root (for dist/hako, cli.ts, node_modules/.bin). */
  repo: string;
  /** Scratch directory for this run: rootfs, bundles, stores (removed afterwards). */
  work: string;
  /** Cache kept across runs (the VM kernel). */
  cache: string;
  /** Counted runs per case (the group's default unless --runs was given). */
  runs: number;
  /** Warm-up runs per case. */
  warmup: number;
  /** Smoke-test mode: tiny inputs, short VM timeouts. */
  quick: boolean;
  /** Milliseconds a VM boot may take before the row is given up (probe run). */
  vmTimeoutMs: number;
  /** Containers the density group starts. */
  densityCount: number;
  peers: Peers;
  /** Prints a progress line. */
  log(line: string): void;
  /** Registers teardown; it runs in reverse order at the end or on interrupt. */
  defer(what: string, fn: () => Promise<void>): void;
  /** True once the bench has been interrupted. */
  stopped(): boolean;
}

/** The result of one group: tables of rows plus notes the report prints with them. */
export interface GroupResult {
  name: string;
  title: string;
  /** What is measured, one paragraph. */
  description: string;
  /** Adjustments and caveats, printed under the table. */
  notes: string[];
  /** The row every ratio is taken against. */
  baseline?: string;
  /** Extra columns (keys of Row.extra) after the standard ones. */
  columns?: string[];
  /** Unit of the samples when not milliseconds. */
  unit?: string;
  rows: Row[];
}

/** A bench group. */
export interface Group {
  name: string;
  title: string;
  /** One line for --list. */
  summary: string;
  /** Counted runs when --runs is not given. */
  defaultRuns: number;
  /** Peer ids this group uses (for --list). */
  peers: string[];
  run(ctx: Context): Promise<GroupResult>;
}
