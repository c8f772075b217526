import * as fs from "node:fs/promises";
import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { InvalidDataError } from "../errors.ts";
import { storeLayerFromTar } from "./layer.ts";
import { getXattr, hasCommand, listing, tarBytes, tempDir } from "./test_util.ts";
import type { TarWriteEntry } from "./tar_writer.ts";

const root = needsRoot();
const noPython = hasCommand("python3") ? false : "python3 is needed to read xattrs";
const LONG = "deep/" + "x".repeat(120) + "/file-with-a-long-name";

const entries: TarWriteEntry[] = [
  { header: { name: "./", type: "directory", mode: 0o755, mtime: 500 } },
  { header: { name: "etc", type: "directory", mode: 0o755, mtime: 1000 } },
  {
    header: { name: "etc/passwd", type: "file", mode: 0o640, uid: 1000, gid: 1001, mtime: 2000 },
    data: "root:x:0:0::/root:/bin/sh\n",
  },
  {
    header: { name: "etc/link", type: "symlink", linkname: "passwd", mtime: 3000, uid: 7, gid: 8 },
  },
  { header: { name: "etc/hard", type: "link", linkname: "etc/passwd" } },
  { header: { name: "etc/.wh.old", type: "file", mtime: 1 }, data: "" },
  { header: { name: "bin/su", type: "file", mode: 0o4755, uid: 0, gid: 0 }, data: "#!/bin/sh\n" },
  { header: { name: "bin/sg", type: "file", mode: 0o2711, uid: 5, gid: 6 }, data: "" },
  { header: { name: "tmp", type: "directory", mode: 0o1777 } },
  { header: { name: "run/fifo", type: "fifo", mode: 0o600 } },
  { header: { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 } },
  { header: { name: "dev/loop0", type: "block", mode: 0o660, devmajor: 7, devminor: 0 } },
  {
    header: {
      name: "bin/ping",
      type: "file",
      mode: 0o755,
      xattrs: { "trusted.hako": new Uint8Array([0, 0xff, 0x01, 0x0a, 0x3d]) },
    },
    data: "ping",
  },
  {
    header: {
      name: "bin/planted",
      type: "file",
      xattrs: { "trusted.overlay.opaque": new TextEncoder().encode("y") },
    },
    data: "",
  },
  { header: { name: LONG, type: "file", mode: 0o600, mtime: 4000 }, data: "long" },
  { header: { name: "var/cache", type: "directory" } },
  { header: { name: "var/cache/.wh..wh..opq", type: "file" }, data: "" },
  { header: { name: "var/cache/kept", type: "file" }, data: "k" },
  { header: { name: "/abs/file", type: "file" }, data: "abs" },
];

test("storeLayerFromTar: unpacks every entry kind into an overlay lower dir", async () => {
  const store = await tempDir();
  const tar = await tarBytes(entries);
  const layer = await storeLayerFromTar(
    store,
    (async function* () {
      yield tar;
    })(),
  );
  assertEquals(layer.compression, "none");
  assertEquals(layer.digest, layer.diffId);
  const d = `${store}/layers/${layer.diffId.slice(7)}/diff`;
  const st = (p: string) => fs.lstat(`${d}/${p}`);

  const passwd = await st("etc/passwd");
  assertEquals([passwd.uid, passwd.gid, passwd.mode & 0o7777, passwd.mtimeMs], [
    1000,
    1001,
    0o640,
    2000_000,
  ]);
  assertEquals(passwd.nlink, 2, "etc/hard is a hard link to etc/passwd");
  assertEquals((await st("etc/hard")).ino, passwd.ino);
  assertEquals(await fs.readlink(`${d}/etc/link`), "passwd");
  const link = await st("etc/link");
  assertEquals([link.uid, link.gid, link.mtimeMs], [7, 8, 3000_000]);
  assertEquals((await st("etc")).mtimeMs, 1000_000, "dir mtime is set after its contents");
  assertEquals((await st("")).mtimeMs, 500_000);

  const wh = await st("etc/old");
  assert(wh.isCharacterDevice() && wh.rdev === 0, "whiteout is a 0:0 char device");
  assertEquals(await fs.lstat(`${d}/etc/.wh.old`).catch(() => null), null);
  assertEquals((await st("bin/su")).mode & 0o7777, 0o4755);
  const sg = await st("bin/sg");
  assertEquals([sg.mode & 0o7777, sg.uid, sg.gid], [0o2711, 5, 6]);
  assertEquals((await st("tmp")).mode & 0o7777, 0o1777);
  assert((await st("run/fifo")).isFIFO(), "fifo");
  const dn = await st("dev/null");
  assert(dn.isCharacterDevice() && dn.rdev === (1 << 8 | 3), "char device 1:3");
  const loop = await st("dev/loop0");
  assert(loop.isBlockDevice() && loop.rdev === 7 << 8, "block device 7:0");
  assertEquals(await fs.readFile(`${d}/${LONG}`, "utf8"), "long");
  assertEquals(await fs.readFile(`${d}/abs/file`, "utf8"), "abs");
  assertEquals(await fs.readFile(`${d}/var/cache/kept`, "utf8"), "k");
  assertEquals(await fs.lstat(`${d}/var/cache/.wh..wh..opq`).catch(() => null), null);
  if (!noPython) {
    assertEquals([...getXattr(`${d}/bin/ping`, "trusted.hako")!], [0, 0xff, 0x01, 0x0a, 0x3d]);
    assertEquals(
      new TextDecoder().decode(getXattr(`${d}/var/cache`, "trusted.overlay.opaque")!),
      "y",
    );
    assertEquals(
      getXattr(`${d}/bin/planted`, "trusted.overlay.opaque"),
      null,
      "overlay xattrs from a tar are dropped",
    );
  }
  const rec = JSON.parse(
    await fs.readFile(`${store}/layers/${layer.diffId.slice(7)}/layer.json`, "utf8"),
  );
  assertEquals(rec, {
    diffId: layer.diffId,
    digest: layer.digest,
    size: layer.size,
    mediaType: "application/vnd.oci.image.layer.v1.tar",
  });
  assertEquals(layer.size, 26 + 10 + 4 + 4 + 1 + 3);
  assertEquals((await fs.readdir(`${store}/tmp`)).length, 0, "no staging left");
}, { skip: root });

test(
  "storeLayerFromTar: verifies expected digest and diff_id, keeping nothing on mismatch",
  async () => {
    const store = await tempDir();
    const tar = await tarBytes([{ header: { name: "a", type: "file" }, data: "a" }]);
    const src = () =>
      (async function* () {
        yield tar;
      })();
    const before = await listing(store);
    await assertRejects(
      () => storeLayerFromTar(store, src(), { digest: "sha256:" + "0".repeat(64) }),
      /digest mismatch/,
    );
    await assertRejects(
      () => storeLayerFromTar(store, src(), { diffId: "sha256:" + "1".repeat(64) }),
      /diff_id mismatch/,
    );
    assertEquals((await listing(store)).filter((l) => !l.startsWith("tmp")), before);
    assertEquals((await fs.readdir(`${store}/tmp`)).length, 0);
  },
  { skip: root },
);

async function assertEscapeRejected(name: string, tarEntries: TarWriteEntry[], re: RegExp) {
  const outer = await tempDir();
  const store = `${outer}/a/b/store`;
  await fs.mkdir(store, { recursive: true });
  const before = await listing(outer);
  const tar = await tarBytes(tarEntries);
  const e = await assertRejects(() =>
    storeLayerFromTar(
      store,
      (async function* () {
        yield tar;
      })(),
    ), re);
  assert(e instanceof InvalidDataError, `${name}: InvalidDataError`);
  assertEquals(
    (await listing(outer)).filter((l) => !l.startsWith("a/b/store/tmp")),
    before,
    `${name}: nothing written`,
  );
  assertEquals((await fs.readdir(`${store}/tmp`)).length, 0, `${name}: no staging left`);
}

test("unpack rejects entries that escape the layer root", async () => {
  await assertEscapeRejected("dotdot", [
    { header: { name: "../../etc/x", type: "file" }, data: "evil" },
  ], /layer: entry \.\.\/\.\.\/etc\/x escapes the layer root/);
  await assertEscapeRejected("dotdot inside", [
    { header: { name: "a/../../x", type: "file" }, data: "evil" },
  ], /escapes the layer root/);
  await assertEscapeRejected("symlink to /", [
    { header: { name: "a", type: "symlink", linkname: "/" } },
    { header: { name: "a/etc/evil", type: "file" }, data: "evil" },
  ], /passes through symlink a/);
  await assertEscapeRejected("symlink up", [
    { header: { name: "a", type: "symlink", linkname: "../../.." } },
    { header: { name: "a/evil", type: "file" }, data: "evil" },
  ], /passes through symlink a/);
  await assertEscapeRejected("symlink dir then dir entry", [
    { header: { name: "d", type: "symlink", linkname: "../../.." } },
    { header: { name: "d/sub", type: "directory" } },
  ], /passes through symlink d/);
  await assertEscapeRejected("hardlink out", [
    { header: { name: "h", type: "link", linkname: "../../etc/passwd" } },
  ], /escapes the layer root/);
  await assertEscapeRejected("hardlink through symlink", [
    { header: { name: "s", type: "symlink", linkname: "/etc" } },
    { header: { name: "h", type: "link", linkname: "s/passwd" } },
  ], /passes through symlink s/);
  await assertEscapeRejected("whiteout through symlink", [
    { header: { name: "s", type: "symlink", linkname: "/" } },
    { header: { name: "s/.wh.etc", type: "file" }, data: "" },
  ], /passes through symlink s/);
}, { skip: root });

test("unpack replaces a symlink by a later entry instead of writing through it", async () => {
  const store = await tempDir();
  const outside = await tempDir();
  const tar = await tarBytes([
    { header: { name: "x", type: "symlink", linkname: `${outside}/target` } },
    { header: { name: "x", type: "file" }, data: "inside" },
  ]);
  const layer = await storeLayerFromTar(
    store,
    (async function* () {
      yield tar;
    })(),
  );
  assertEquals(await fs.readdir(outside), []);
  const p = `${store}/layers/${layer.diffId.slice(7)}/diff/x`;
  assertEquals(await fs.readFile(p, "utf8"), "inside");
}, { skip: root });

test(
  "storeLayerFromTar: a layer already stored under the expected diff_id is not unpacked again",
  async () => {
    const store = await tempDir();
    const tar = await tarBytes([{ header: { name: "a", type: "file" }, data: "a" }]);
    const src = () =>
      (async function* () {
        yield tar;
      })();
    const first = await storeLayerFromTar(store, src());
    const marker = `${store}/layers/${first.diffId.slice(7)}/diff/marker`;
    await fs.writeFile(marker, "");
    const again = await storeLayerFromTar(store, src(), {
      diffId: first.diffId,
      digest: first.digest,
    });
    assertEquals(again.size, first.size);
    assertEquals(await fs.readFile(marker, "utf8"), "", "same directory kept");
  },
  { skip: root },
);
