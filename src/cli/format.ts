/** Output helpers shared by the CLI commands: Docker-like tables, sizes and ages. */

import { writeOut } from "../../ffi/host.ts";

/** Prints rows as a table with columns padded like docker's (3 spaces apart). */
export function printTable(header: string[], rows: string[][]): void {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => i === r.length - 1 ? c : (c ?? "").padEnd(w[i] + 3)).join("").trimEnd() + "\n";
  writeOut(line(header) + rows.map(line).join(""));
}

/** Docker's human sizes: 1.2MB, 850kB (decimal units). */
export function humanSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3).replace(/\.?0+$/, "")}${units[i]}`;
}

/** "3 seconds", "About a minute", "2 hours" as docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

/** "5 minutes ago". */
export function ago(iso: string): string {
  if (!iso) return "N/A";
  return `${humanDuration(Date.now() - new Date(iso).getTime())} ago`;
}

/** Prints a value as JSON, one document per line (`--format json`). */
export function printJsonLine(v: unknown): void {
  writeOut(JSON.stringify(v) + "\n");
}

/** Prints a value as indented JSON (inspect). */
export function printJson(v: unknown): void {
  writeOut(JSON.stringify(v, null, 4) + "\n");
}

/** Truncates a command for the ps COMMAND column, quoted like docker. */
export function shortCommand(path: string, args: string[]): string {
  const s = [path, ...args].join(" ");
  return JSON.stringify(s.length > 20 ? s.slice(0, 19) + "…" : s);
}

/**
 * Applies a Go-template-like `--format` with `{{.Field}}` placeholders (the subset scripts
 * use), or returns null for "json"/"table" handled by the caller.
 */
export function applyFormat(format: string, obj: Record<string, unknown>): string {
  return format.replace(/\{\{\s*(?:json\s+)?\.([A-Za-z0-9_.]+)\s*\}\}/g, (_, path: string) => {
    // deno-lint-ignore no-explicit-any
    let v: any = obj;
    for (const k of path.split(".")) v = v?.[k];
    return typeof v === "object" ? JSON.stringify(v) : String(v ?? "");
  }).replace(/\\t/g, "\t").replace(/\\n/g, "\n");
}
