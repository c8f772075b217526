/**
 * A chart a person reads at a glance: one horizontal bar per row on a log time axis (bar
 * = median, whisker = min to max, tick = p90), grouped into floors, hako, container
 * runtimes and VMs, with published references drawn apart as hollow dashed bars, and rows
 * that could not be measured listed with their reason instead of a bar.
 *
 * @module
 */

import type { Kind, Row } from "./runner.ts";
import { formatMs, formatRatio } from "./stats.ts";

/** Chart options. */
export interface ChartOptions {
  title: string;
  /** A line under the title (host, runs). */
  subtitle?: string;
}

const SECTIONS: { kinds: Kind[]; title: string }[] = [
  { kinds: ["floor"], title: "Floors: the process and namespace cost any container pays" },
  { kinds: ["hako"], title: "hako" },
  { kinds: ["container", "tool"], title: "Other container runtimes and engines" },
  { kinds: ["vm"], title: "Virtual machines (QEMU, Debian cloud kernel, busybox initramfs)" },
  { kinds: ["reference"], title: "Published reference, not measured here" },
];

const COLORS: Record<Kind, string> = {
  floor: "#9aa0a6",
  hako: "#e8710a",
  container: "#1a73e8",
  tool: "#1a73e8",
  vm: "#9334e6",
  reference: "#5f6368",
};

/** Escapes text for SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/** Renders `rows` (milliseconds) as an SVG document. */
export function chart(rows: Row[], o: ChartOptions): string {
  const W = 1100, labelRight = 430, plotL = 440, plotR = 880, valueX = 892;
  const rowH = 22, sectionH = 30, top = 86;
  const values: number[] = [];
  for (const r of rows) {
    if (r.summary) values.push(r.summary.min, r.summary.max, r.summary.median);
    if (r.reference) values.push(r.reference.value);
  }
  const pos = values.filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(pos.length ? Math.min(...pos) : 1)));
  const hi = Math.pow(10, Math.ceil(Math.log10(pos.length ? Math.max(...pos) : 1000)));
  const hiFixed = hi <= lo ? lo * 10 : hi;
  const x = (v: number) =>
    plotL + (plotR - plotL) * (Math.log10(Math.max(v, lo)) - Math.log10(lo)) /
      (Math.log10(hiFixed) - Math.log10(lo));

  const body: string[] = [];
  let y = top;
  for (const sec of SECTIONS) {
    const rs = rows.filter((r) => sec.kinds.includes(r.kind));
    if (!rs.length) continue;
    y += 8;
    body.push(
      `<text x="12" y="${y + 16}" class="section">${esc(sec.title)}</text>`,
      `<line x1="12" x2="${W - 12}" y1="${y + 22}" y2="${y + 22}" class="rule"/>`,
    );
    y += sectionH;
    for (const r of rs) {
      const cy = y + rowH / 2;
      const color = COLORS[r.kind];
      const muted = !r.summary && !r.reference;
      body.push(
        `<text x="${labelRight}" y="${cy + 4}" text-anchor="end" class="${
          muted ? "label muted" : r.kind === "hako" ? "label strong" : "label"
        }">${esc(clip(r.label, 62))}</text>`,
      );
      if (r.summary) {
        const s = r.summary;
        body.push(
          `<rect x="${plotL}" y="${cy - 7}" width="${
            Math.max(1, x(s.median) - plotL).toFixed(1)
          }" height="14" rx="2" fill="${color}" fill-opacity="0.85"/>`,
          `<line x1="${x(s.min).toFixed(1)}" x2="${
            x(s.max).toFixed(1)
          }" y1="${cy}" y2="${cy}" class="whisker"/>`,
          `<line x1="${x(s.min).toFixed(1)}" x2="${x(s.min).toFixed(1)}" y1="${cy - 4}" y2="${
            cy + 4
          }" class="whisker"/>`,
          `<line x1="${x(s.max).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${cy - 4}" y2="${
            cy + 4
          }" class="whisker"/>`,
          `<line x1="${x(s.p90).toFixed(1)}" x2="${x(s.p90).toFixed(1)}" y1="${cy - 7}" y2="${
            cy + 7
          }" class="p90"/>`,
          `<text x="${valueX}" y="${cy + 4}" class="value">${esc(formatMs(s.median))}${
            r.ratio !== undefined
              ? `<tspan class="ratio" dx="6">${esc(formatRatio(r.ratio))} hako</tspan>`
              : ""
          }</text>`,
        );
      } else if (r.reference) {
        const v = r.reference.value;
        body.push(
          `<rect x="${plotL}" y="${cy - 7}" width="${
            Math.max(1, x(v) - plotL).toFixed(1)
          }" height="14" rx="2" class="reference"/>`,
          `<text x="${valueX}" y="${cy + 4}" class="value">≤ ${
            esc(formatMs(v))
          }<tspan class="ratio" dx="6">published figure</tspan></text>`,
        );
      } else {
        const why = r.status === "failed" ? "failed" : "not measured";
        body.push(
          `<text x="${plotL}" y="${cy + 4}" class="reason">${
            esc(clip(`${why}: ${shortReason(r.reason ?? "")}`, 100))
          }</text>`,
        );
      }
      y += rowH;
    }
  }
  const bottom = y + 12;

  // Log-scale grid: every 1, 2, 5 × 10^k, labelled at powers of ten (and 2, 5 when few decades).
  const grid: string[] = [];
  const decades = Math.round(Math.log10(hiFixed / lo));
  for (let d = lo; d <= hiFixed * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hiFixed * 1.0001) break;
      const gx = x(v).toFixed(1);
      grid.push(
        `<line x1="${gx}" x2="${gx}" y1="${top - 4}" y2="${bottom}" class="${
          m === 1 ? "grid" : "grid minor"
        }"/>`,
      );
      if (m === 1 || decades <= 3) {
        grid.push(
          `<text x="${gx}" y="${top - 10}" text-anchor="middle" class="${
            m === 1 ? "tick" : "tick minor"
          }">${esc(axisLabel(v))}</text>`,
        );
      }
    }
  }

  // hako's median as a dashed line through every section, so each bar reads against it.
  const base = rows.find((r) => r.kind === "hako" && r.ratio === 1 && r.summary);
  if (base?.summary) {
    const bx = x(base.summary.median).toFixed(1);
    grid.push(
      `<line x1="${bx}" x2="${bx}" y1="${top - 4}" y2="${bottom}" class="baseline"/>`,
      `<text x="${bx}" y="${bottom + 12}" text-anchor="middle" class="baselabel">hako ${
        esc(formatMs(base.summary.median))
      }</text>`,
    );
  }

  const H = bottom + 66;
  const legendY = bottom + 34;
  const legend = [
    `<rect x="${plotL}" y="${
      legendY - 9
    }" width="26" height="12" rx="2" fill="${COLORS.container}" fill-opacity="0.85"/>`,
    `<text x="${plotL + 32}" y="${legendY + 1}" class="legend">bar: median</text>`,
    `<line x1="${plotL + 120}" x2="${plotL + 160}" y1="${legendY - 3}" y2="${
      legendY - 3
    }" class="whisker"/>`,
    `<line x1="${plotL + 120}" x2="${plotL + 120}" y1="${legendY - 7}" y2="${
      legendY + 1
    }" class="whisker"/>`,
    `<line x1="${plotL + 160}" x2="${plotL + 160}" y1="${legendY - 7}" y2="${
      legendY + 1
    }" class="whisker"/>`,
    `<text x="${plotL + 166}" y="${legendY + 1}" class="legend">whisker: min – max</text>`,
    `<line x1="${plotL + 296}" x2="${plotL + 296}" y1="${legendY - 10}" y2="${
      legendY + 4
    }" class="p90"/>`,
    `<text x="${plotL + 302}" y="${legendY + 1}" class="legend">tick: p90</text>`,
    `<rect x="${plotL + 370}" y="${legendY - 9}" width="26" height="12" rx="2" class="reference"/>`,
    `<text x="${plotL + 402}" y="${legendY + 1}" class="legend">published figure</text>`,
    `<text x="12" y="${
      legendY + 22
    }" class="legend">log scale; ratios are medians over hako's (compiled binary, --network none) from the same run</text>`,
  ];

  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 18px; font-weight: bold; fill: #202124; }
  .subtitle { font-size: 12px; fill: #5f6368; }
  .section { font-size: 13px; font-weight: bold; fill: #202124; }
  .rule { stroke: #dadce0; stroke-width: 1; }
  .label { font-size: 12px; fill: #202124; }
  .label.strong { font-weight: bold; }
  .label.muted { fill: #80868b; }
  .value { font-size: 12px; fill: #202124; font-weight: bold; }
  .ratio { font-weight: normal; fill: #5f6368; }
  .reason { font-size: 11px; fill: #80868b; font-style: italic; }
  .grid { stroke: #dadce0; stroke-width: 1; }
  .grid.minor { stroke: #f1f3f4; }
  .tick { font-size: 11px; fill: #5f6368; }
  .tick.minor { fill: #9aa0a6; }
  .whisker { stroke: #202124; stroke-width: 1.2; }
  .p90 { stroke: #202124; stroke-width: 2; }
  .reference { fill: none; stroke: #5f6368; stroke-width: 1.5; stroke-dasharray: 4 3; }
  .legend { font-size: 11px; fill: #5f6368; }
  .baseline { stroke: #e8710a; stroke-width: 1; stroke-dasharray: 3 3; }
  .baselabel { font-size: 10px; fill: #e8710a; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="26" class="title">${esc(o.title)}</text>
${o.subtitle ? `<text x="12" y="46" class="subtitle">${esc(clip(o.subtitle, 170))}</text>` : ""}
${grid.join("\n")}
${body.join("\n")}
${legend.join("\n")}
</svg>
`;
}

/** The first clause of a reason (the report has the whole sentence). */
function shortReason(s: string): string {
  return s.split(/; | \(|: apt-get| \/ /)[0];
}

function axisLabel(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  if (ms >= 1) return `${+ms.toPrecision(3)} ms`;
  return `${+(ms * 1000).toPrecision(3)} µs`;
}
