import { execFileSync } from "node:child_process";
import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { decompress, detectCompression, unzstdJs } from "./compression.ts";
import { hasCommand } from "./test_util.ts";

const input = new TextEncoder().encode("hako layer ".repeat(50_000));

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

function chunked(b: Uint8Array, n = 4096) {
  return (async function* () {
    for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
  })();
}

const cli = (cmd: string) => new Uint8Array(execFileSync(cmd, ["-c"], { input }));

test("gzip: detected by magic and decompressed", async () => {
  const gz = cli("gzip");
  assertEquals(detectCompression(gz), "gzip");
  assertEquals((await collect(decompress("gzip", chunked(gz)))).length, input.length);
  await assertRejects(() => collect(decompress("gzip", chunked(gz.subarray(0, 100)))), /^gzip: /);
});

test("zstd: native and pure-JS decoders agree", async () => {
  const zs = cli("zstd");
  assertEquals(detectCompression(zs), "zstd");
  const a = await collect(decompress("zstd", chunked(zs)));
  const b = await collect(unzstdJs(chunked(zs)));
  assertEquals([a.length, b.length], [input.length, input.length]);
  assertEquals(a.every((v, i) => v === input[i]), true);
  assertEquals(b.every((v, i) => v === input[i]), true);
  await assertRejects(() => collect(unzstdJs(chunked(zs.subarray(0, 20)))), /^zstd: /);
}, { skip: hasCommand("zstd") ? false : "the zstd CLI is not installed" });

test("detectCompression: plain, xz and bzip2", async () => {
  assertEquals(detectCompression(new Uint8Array([0x2e, 0x2f, 0, 0])), "none");
  await assertRejects(
    () => detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])),
    /xz/,
  );
  await assertRejects(() => detectCompression(new TextEncoder().encode("BZh9")), /bzip2/);
});
