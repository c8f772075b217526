/**
 * report.md: the host, the method, and per group a table (median, p90, min, max, ratio to
 * hako, runs) followed by the exact command of every row and the notes that go with it.
 *
 * @module
 */

import type { GroupResult } from "./group.ts";
import type { HostFacts } from "./hostinfo.ts";
import type { Row } from "./runner.ts";
import { formatMs, formatRatio } from "./stats.ts";

/** What results.json holds (and the report is made from). */
export interface Results {
  /** Format version of this file. */
  format: 1;
  started: string;
  finished: string;
  /** The bench's own command line. */
  argv: string[];
  host: HostFacts;
  /** How every command was run (the mount namespace adjustment). */
  environment: string[];
  method: { warmup: number; runsByGroup: Record<string, number>; order: string };
  /** Peer id → path and version (null when missing). */
  peers: Record<string, { path: string | null; version: string | null }>;
  vmKernel: string | null;
  groups: GroupResult[];
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function fmt(v: number, unit?: string): string {
  if (!unit || unit === "ms") return formatMs(v);
  return `${+v.toPrecision(3)} ${unit}`;
}

function statusText(r: Row): string {
  if (r.status === "skipped") return "not measured";
  if (r.status === "failed") return "failed";
  return "";
}

/** The markdown table of one group. */
export function table(g: GroupResult): string {
  const extra = g.columns ?? [];
  const head = [
    "Case",
    "Median",
    "p90",
    "Min",
    "Max",
    ...(g.baseline ? ["Ratio to hako"] : []),
    "Runs",
    ...extra,
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ];
  g.rows.forEach((r, i) => {
    const label = `${cell(r.label)} [${i + 1}]`;
    const ex = extra.map((k) => cell(String(r.extra?.[k] ?? "")));
    const ratio = r.ratio !== undefined ? formatRatio(r.ratio) : "–";
    let cells: string[];
    if (r.reference) {
      cells = [
        `*${label}, published, not measured*`,
        `*≤ ${fmt(r.reference.value, g.unit)}*`,
        "",
        "",
        "",
        ...(g.baseline ? [""] : []),
        "",
      ];
    } else if (!r.summary) {
      cells = [label, statusText(r), "", "", "", ...(g.baseline ? [""] : []), ""];
    } else {
      const s = r.summary;
      const b = r.id === g.baseline ? "**" : "";
      cells = [
        `${b}${label}${b}`,
        `${b}${fmt(s.median, g.unit)}${b}`,
        fmt(s.p90, g.unit),
        fmt(s.min, g.unit),
        fmt(s.max, g.unit),
        ...(g.baseline ? [ratio] : []),
        `${s.n}${r.failures ? ` (+${r.failures} failed)` : ""}`,
      ];
    }
    lines.push(`| ${[...cells, ...ex].join(" | ")} |`);
  });
  return lines.join("\n");
}

/** The numbered commands and notes under a group's table. */
export function commands(g: GroupResult): string {
  const out: string[] = [];
  g.rows.forEach((r, i) => {
    const n = i + 1;
    if (r.reference) {
      out.push(
        `${n}. **${r.label}** — ${r.reference.source}${
          r.reference.url ? ` (${r.reference.url})` : ""
        }.`,
      );
      return;
    }
    const parts = [`${n}. **${r.label}**${r.metric !== "launch to exit" ? ` (${r.metric})` : ""}`];
    if (r.status !== "measured") {
      parts.push(` — ${r.status === "failed" ? "failed" : "not measured"}: ${r.reason}`);
    } else if (r.reason) parts.push(` — ${r.reason}`);
    out.push(parts.join(""));
    if (r.command) out.push("", "   ```sh", `   ${r.command}`, "   ```");
    if (r.note) out.push(`   ${r.note}.`.replace(/\.\.$/, "."));
    out.push("");
  });
  return out.join("\n").replace(/\n{3,}/g, "\n\n");
}

/** The whole report. */
export function report(res: Results, charts: Record<string, string>): string {
  const h = res.host;
  const out: string[] = [];
  out.push(`# hako bench, ${res.started.slice(0, 10)}`, "");
  out.push(
    "A bench never passes or fails: it measures, on this host, in one run. Every row ran exactly the command shown under its table.",
    "",
  );
  out.push("## Host", "");
  out.push("| | |", "| --- | --- |");
  out.push(`| Kernel | ${cell(h.kernelVersion)} (${cell(h.arch)}) |`);
  out.push(`| Distribution | ${cell(h.distro)} |`);
  out.push(
    `| CPU | ${cell(h.cpu)}, ${h.cpus} CPUs${
      h.virtualized ? " (a virtual machine: the CPU reports a hypervisor)" : ""
    } |`,
  );
  out.push(`| Memory | ${(h.memoryMiB / 1024).toFixed(1)} GiB |`);
  out.push(`| cgroups | v${h.cgroup.version}: ${cell(h.cgroup.layout)} |`);
  out.push(`| KVM | ${cell(h.kvm.kind)}: ${cell(h.kvm.detail)} |`);
  out.push(`| TSC | ${h.tsc.khz ? `${h.tsc.khz} kHz` : "unknown"} (${cell(h.tsc.source)}) |`);
  out.push(`| hako | ${cell(h.hakoCommit)} |`);
  out.push("");
  out.push("## Method", "");
  const runs = Object.entries(res.method.runsByGroup).map(([g, n]) => `${g}: ${n}`).join(", ");
  out.push(
    `- ${res.method.warmup} warm-up run(s) per case, then counted runs (${runs}); ${res.method.order}`,
    "- Median, p90 (linear interpolation), min and max of the counted runs; ratios are medians over hako's median from the same run.",
    ...res.environment.map((e) => `- ${e}`),
    "",
  );
  out.push("Peers:", "");
  for (const [id, p] of Object.entries(res.peers)) {
    out.push(
      `- ${id}: ${p.path ? `${p.path}${p.version ? ` — ${cell(p.version)}` : ""}` : "not found"}`,
    );
  }
  if (res.vmKernel) out.push(`- VM kernel: ${res.vmKernel}`);
  out.push("");
  for (const g of res.groups) {
    out.push(`## ${g.name}: ${g.title}`, "", g.description, "");
    if (charts[g.name]) out.push(`![${g.name} chart](${charts[g.name]})`, "");
    out.push(table(g), "");
    for (const n of g.notes) out.push(`- ${n}`);
    if (g.notes.length) out.push("");
    out.push("### Commands", "", commands(g), "");
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
