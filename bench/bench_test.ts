/**
 * The bench's own tests: the statistics, the initramfs archive, the chart and the report
 * from made-up rows (no root needed), and a smoke run of every group with one run on
 * whatever peers this host has, checking that results.json, report.md and startup.svg
 * come out well-formed.
 */

import * as fs from "../ffi/fs.ts";
import { assert, assertEquals, needsRoot, runtime, test } from "../test/harness.ts";
import { needsBusybox, run } from "../test/fixtures.ts";
import { cacheHits } from "./build.ts";
import { splitRule } from "./hostguard.ts";
import { shellQuote } from "./proc.ts";
import { report, type Results, table } from "./report.ts";
import { addRatios, type Row } from "./runner.ts";
import { likeForLike } from "./startup.ts";
import { formatMs, median, p90, quantile, summarize } from "./stats.ts";
import { chart } from "./svg.ts";
import { cpio, MARKER } from "./vm.ts";

/** Why `xml` is not well-formed (unbalanced or stray tags, bad attributes), or null. */
export function xmlProblem(xml: string): string | null {
  const stack: string[] = [];
  const re =
    /<(\?[^>]*\?|!--[\s\S]*?--|\/?)([A-Za-z][\w:.-]*)?((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  for (const m of xml.matchAll(re)) {
    const between = xml.slice(last, m.index);
    if (/[<>]/.test(between)) return `stray < or > near offset ${last}: ${between.slice(0, 60)}`;
    if (/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;)/.test(between)) {
      return `unescaped & near offset ${last}`;
    }
    last = m.index! + m[0].length;
    const [, lead, name, , selfClose] = m;
    if (lead.startsWith("?") || lead.startsWith("!--")) continue;
    if (!name) return `a tag without a name at offset ${m.index}`;
    if (lead === "/") {
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open}>`;
    } else if (!selfClose) stack.push(name);
  }
  if (/[<>]/.test(xml.slice(last))) return "stray < or > at the end";
  return stack.length ? `<${stack.join("><")}> never closed` : null;
}

function row(id: string, kind: Row["kind"], samples: number[], label = id): Row {
  return {
    id,
    label,
    kind,
    command: shellQuote([id, "run", "--rm", "x"]),
    status: "measured",
    metric: "launch to exit",
    samples,
    failures: 0,
    summary: summarize(samples),
  };
}

function sampleRows(): Row[] {
  const rows: Row[] = [
    row("floor-exec", "floor", [1, 1.2, 0.9]),
    row("hako", "hako", [10, 12, 11], 'hako run --rm <fast> & "quoted"'),
    row("crun", "container", [20, 30, 25]),
    row("podman-none", "container", [300, 320, 310]),
    row("qemu-microvm-tcg:marker", "vm", [2000, 2500, 2100]),
    {
      ...row("qemu-pc-kvm", "vm", []),
      status: "skipped",
      summary: null,
      reason: "no /dev/kvm: kvm_pvm is loaded but made no device; details",
    },
    {
      ...row("firecracker-spec", "reference", []),
      status: "reference",
      command: "",
      summary: null,
      reference: { value: 125, source: "a published figure" },
    },
  ];
  addRatios(rows, "hako");
  return rows;
}

test("bench stats: median, p90 and friends", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([1, 2, 3, 4]), 2.5);
  assertEquals(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.1);
  assertEquals(p90([5]), 5);
  assert(Number.isNaN(median([])));
  const s = summarize([4, 1, 3, 2])!;
  assertEquals([s.n, s.min, s.max, s.mean, s.median], [4, 1, 4, 2.5, 2.5]);
  assertEquals(summarize([]), null);
  assertEquals(
    [formatMs(0.5), formatMs(12.34), formatMs(152.4), formatMs(1520)],
    ["0.50 ms", "12.3 ms", "152 ms", "1.52 s"],
  );
});

test("bench ratios: over hako's median, never for a published reference", () => {
  const rows = sampleRows();
  assertEquals(rows.find((r) => r.id === "crun")!.ratio, 25 / 11);
  assertEquals(rows.find((r) => r.id === "hako")!.ratio, 1);
  assertEquals(rows.find((r) => r.id === "firecracker-spec")!.ratio, undefined);
  const text = likeForLike(rows)!;
  assert(text.includes("crun run ×2.27"), text);
});

test("bench initramfs: a newc cpio with the marker in /init", () => {
  const data = new TextEncoder().encode("#!/bin/sh\necho hi\n");
  const a = cpio([{ name: "init", mode: 0o100755, data }, {
    name: "dev/console",
    mode: 0o020600,
    rdev: [5, 1],
  }]);
  const text = new TextDecoder().decode(a);
  assertEquals(text.slice(0, 6), "070701");
  assertEquals(a.length % 4, 0);
  assert(text.includes("init\0") && text.includes("TRAILER!!!\0"));
  // Each header is 110 bytes; the name field (8 hex digits at offset 94) counts the NUL.
  assertEquals(parseInt(text.slice(94, 102), 16), "init".length + 1);
  assertEquals(parseInt(text.slice(54, 62), 16), data.length);
  // The console node is a character device 5:1.
  const dev = text.indexOf("070701", 110 + 8);
  assertEquals(parseInt(text.slice(dev + 6 + 8, dev + 6 + 16), 16), 0o020600);
  assertEquals(parseInt(text.slice(dev + 78, dev + 86), 16), 5);
  assertEquals(parseInt(text.slice(dev + 86, dev + 94), 16), 1);
  assert(MARKER.length > 10);
});

test("bench chart and report from made-up rows are well-formed", () => {
  const rows = sampleRows();
  const svg = chart(rows, { title: "t <&>", subtitle: "s" });
  assertEquals(xmlProblem(svg), null);
  assert(svg.includes("published figure") && svg.includes("not measured: no /dev/kvm"));
  assert(svg.includes("hako run --rm &lt;fast&gt; &amp; &quot;quoted&quot;"));
  assertEquals(xmlProblem("<a><b></a>"), "</a> closes <b>");
  const md = table({
    name: "startup",
    title: "t",
    description: "d",
    notes: [],
    baseline: "hako",
    rows,
  });
  const lines = md.split("\n");
  const cols = (l: string) => l.replace(/\\\|/g, "").split("|").length;
  assert(lines.every((l) => cols(l) === cols(lines[0])), md);
  assert(md.includes('| **hako run --rm <fast> & "quoted" [2]** | **11.0 ms**'), md);
  assert(md.includes("published, not measured"));
});

test("bench helpers: iptables rule splitting, cache hit counting", () => {
  assertEquals(
    splitRule(
      '-D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD',
    ),
    [
      "-D",
      "FORWARD",
      "-m",
      "comment",
      "--comment",
      "netavark firewall plugin rules",
      "-j",
      "NETAVARK_FORWARD",
    ],
  );
  assertEquals(
    cacheHits("STEP 2/6: RUN x\n--> Using cache 12ab\nSTEP 3/6\n--> Using cache 34cd\n"),
    2,
  );
  assertEquals(cacheHits("#5 [2/4] RUN x\n#5 CACHED\n"), 1);
});

const smokeSkip = needsRoot() || (await needsBusybox());

test("bench smoke run: every group, one run, JSON + markdown + SVG well-formed", async () => {
  const tmp = await fs.makeTempDir({ prefix: "hako-bench-test-" });
  try {
    const repo = decodeURIComponent(new URL("..", import.meta.url).pathname);
    // The bench runs on the runtime the tests run on, so both runtimes get covered.
    const rt = runtime === "bun"
      ? [`${repo}node_modules/.bin/bun`, `${repo}bench/main.ts`]
      : [`${repo}node_modules/.bin/deno`, "run", "-A", `${repo}bench/main.ts`];
    const out = `${tmp}/out`;
    const r = await run([
      ...rt,
      "--quick",
      "--vm-timeout",
      "15",
      "--work",
      `${tmp}/work`,
      "--out",
      out,
    ], { check: false });
    assertEquals(r.code, 0, `bench exited ${r.code}: ${r.stderr.slice(-2000)}`);
    assertEquals(r.stdout.trim(), out);
    assert(!(await fs.exists(`${tmp}/work`)), "the scratch directory was removed");

    const res = await fs.readJson<Results>(`${out}/results.json`);
    assertEquals(res.format, 1);
    assertEquals(res.groups.map((g) => g.name), ["startup", "exec", "unpack", "build", "density"]);
    assert(res.host.kernelVersion && res.host.cpu && res.host.kvm.kind && res.host.cgroup.version);
    for (const g of res.groups) {
      assert(g.rows.length > 0, `${g.name} has rows: ${g.description}`);
      for (const row of g.rows) {
        const where = `${g.name}/${row.id}`;
        assert(["measured", "skipped", "failed", "reference"].includes(row.status), where);
        if (row.status === "measured") {
          assert(row.samples.length >= 1 && row.summary && row.summary.median > 0, where);
          assert(row.command.length > 0, `${where} shows its command`);
        } else if (row.status !== "reference") assert(row.reason, `${where} says why`);
      }
    }
    const st = res.groups[0];
    for (const id of ["floor-exec", "floor-unshare", "hako", "crun", "firecracker-spec"]) {
      assert(st.rows.some((x) => x.id === id || x.id.startsWith(`${id}:`)), `startup has ${id}`);
    }
    assert(st.rows.some((x) => x.kind === "vm"), "startup has VM rows (measured or with a reason)");
    assertEquals(st.rows.find((x) => x.id === "floor-exec")!.status, "measured");

    const md = await fs.readText(`${out}/report.md`);
    for (const g of res.groups) assert(md.includes(`## ${g.name}: `), `report has ${g.name}`);
    assert(md.includes("![startup chart](startup.svg)"));
    for (const block of md.split(/\n\n+/).filter((b) => b.startsWith("| Case"))) {
      const lines = block.split("\n");
      const cols = (l: string) => l.replace(/\\\|/g, "").split("|").length;
      assert(
        lines.every((l) => cols(l) === cols(lines[0])),
        `a table's rows all have its columns:\n${block}`,
      );
    }
    const svg = await fs.readText(`${out}/startup.svg`);
    assertEquals(xmlProblem(svg), null);
    assert(svg.startsWith("<?xml") && svg.includes("<svg") && svg.includes("hako"));
  } finally {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
  }
}, { skip: smokeSkip, timeout: 600_000 });
