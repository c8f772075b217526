import { assertEquals, test } from "../../test/harness.ts";
import { formatBytes, Progress } from "./progress.ts";

test("progress: plain lines carry size, time and rate; quiet prints nothing", () => {
  let t = 0;
  const out: string[] = [];
  const p = new Progress("plain", (s) => out.push(s), () => t);
  p.log("1: Pulling from webapp");
  const a = p.bar("aaaaaaaaaaaa"), b = p.bar("bbbbbbbbbbbb");
  a.status("Already exists");
  b.start("Downloading", 2_000_000);
  b.add(2_000_000);
  t = 2000;
  b.finish("Pull complete");
  p.close();
  assertEquals(
    out.join(""),
    [
      "1: Pulling from webapp\n",
      "aaaaaaaaaaaa: Already exists\n",
      "bbbbbbbbbbbb: Downloading 2.00MB\n",
      "bbbbbbbbbbbb: Pull complete (2.00MB in 2.0s, 1.00MB/s)\n",
    ].join(""),
  );
  const q: string[] = [];
  const quiet = new Progress("quiet", (s) => q.push(s));
  quiet.log("x");
  quiet.bar("y").status("z");
  quiet.close();
  assertEquals(q, []);
  assertEquals([formatBytes(999), formatBytes(1000), formatBytes(150_000_000)], [
    "999B",
    "1.00kB",
    "150MB",
  ]);
});

test("progress: a terminal gets bars redrawn in place with bytes, rate and ETA", () => {
  let t = 0;
  const out: string[] = [];
  const p = new Progress("tty", (s) => out.push(s), () => t);
  const b = p.bar("cccccccccccc");
  b.start("Downloading", 10_000_000);
  t = 1000;
  b.add(2_500_000);
  p.log("note");
  const frame = out.at(-1)!;
  // Cursor up over the one bar drawn, the log line, then the bar again.
  assertEquals(
    frame.startsWith("\x1b[1A\x1b[2Knote\n\x1b[2Kcccccccccccc: Downloading ["),
    true,
    JSON.stringify(frame),
  );
  assertEquals(/\] 2.50MB\/10.0MB 2.50MB\/s ETA 3s\n$/.test(frame), true, JSON.stringify(frame));
  b.finish("Pull complete");
  assertEquals(out.at(-1), "\x1b[1A\x1b[2Kcccccccccccc: Pull complete\n");
  // With no transfer running, a line goes below the bars, which stay as drawn.
  p.log("Digest: sha256:x");
  assertEquals(out.slice(-2), [
    "\x1b[1A\x1b[2Kcccccccccccc: Pull complete\n",
    "Digest: sha256:x\n",
  ]);
  p.log("Status: done");
  assertEquals(out.at(-1), "Status: done\n");
  p.close();
  assertEquals(out.at(-1), "Status: done\n");
});
