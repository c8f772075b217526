import * as fs from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { readFileChunks } from "./layer.ts";
import { readTar, type TarHeader } from "./tar_reader.ts";
import { tarBytes, tempDir } from "./test_util.ts";

async function headers(src: AsyncIterable<Uint8Array>) {
  const out: (TarHeader & { data: string })[] = [];
  for await (const e of readTar(src)) {
    let data = "";
    for await (const c of e.body()) data += new TextDecoder().decode(c);
    out.push({ ...e.header, data });
  }
  return out;
}

const LONG = "d".repeat(60) + "/" + "f".repeat(150);

for (const format of ["gnu", "pax", "ustar"]) {
  test(`readTar reads GNU tar's ${format} format (long names, links, modes)`, async () => {
    const dir = await tempDir();
    try {
      await readsFormat(dir, format);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
}

async function readsFormat(dir: string, format: string) {
  {
    const src = `${dir}/src`;
    await fs.mkdir(`${src}/${LONG.split("/")[0]}`, { recursive: true });
    await fs.writeFile(`${src}/${LONG}`, "long");
    await fs.writeFile(`${src}/s`, "s", { mode: 0o755 });
    await fs.chmod(`${src}/s`, 0o6755);
    await fs.symlink("x".repeat(120), `${src}/ln`);
    const files = format === "ustar" ? ["s"] : ["s", "ln", LONG.split("/")[0]];
    execFileSync("tar", [`--format=${format}`, "-C", src, "-cf", `${dir}/t.tar`, ...files]);
    const hs = await headers(readFileChunks(`${dir}/t.tar`));
    const byName = Object.fromEntries(hs.map((h) => [h.name.replace(/\/$/, ""), h]));
    assertEquals(byName["s"].mode, 0o6755);
    assertEquals(byName["s"].data, "s");
    if (format !== "ustar") {
      assertEquals(byName[LONG].data, "long");
      assertEquals(byName["ln"].type, "symlink");
      assertEquals(byName["ln"].linkname, "x".repeat(120));
    }
  }
}

test("readTar: binary PAX xattrs, big uids and round trip through writeTar", async () => {
  const value = new Uint8Array([0, 1, 2, 0xff, 0x0a, 0x3d, 0x20]);
  const tar = await tarBytes([
    {
      header: {
        name: "f",
        type: "file",
        uid: 3_000_000,
        gid: 5,
        mtime: 1.5,
        xattrs: { "security.capability": value },
      },
      data: "x",
    },
    { header: { name: "l".repeat(300), type: "link", linkname: "f".repeat(200) } },
  ]);
  const hs = await headers((async function* () {
    for (let i = 0; i < tar.length; i += 7) yield tar.subarray(i, i + 7);
  })());
  assertEquals(hs.length, 2);
  assertEquals([...hs[0].xattrs["security.capability"]], [...value]);
  assertEquals([hs[0].uid, hs[0].gid, hs[0].mtime, hs[0].data], [3_000_000, 5, 1.5, "x"]);
  assertEquals([hs[1].name, hs[1].linkname], ["l".repeat(300), "f".repeat(200)]);
});

test("readTar: garbage, truncation and unknown types are InvalidDataError", async () => {
  const one = (b: Uint8Array) =>
    (async function* () {
      yield b;
    })();
  await assertRejects(
    () => headers(one(new TextEncoder().encode("x".repeat(1024)))),
    /^not a tar archive$/,
  );
  await assertRejects(() => headers(one(new Uint8Array(0))), /not a tar archive/);
  const tar = await tarBytes([{ header: { name: "f", type: "file" }, data: "x".repeat(2000) }]);
  await assertRejects(() => headers(one(tar.subarray(0, 1024))), /unexpected end of archive/);
  const bad = tar.slice();
  bad[156] = "S".charCodeAt(0); // GNU sparse
  let sum = 0;
  bad.fill(32, 148, 156);
  for (let i = 0; i < 512; i++) sum += bad[i];
  bad.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  await assertRejects(() => headers(one(bad)), /unsupported entry type "S"/);
});
