import * as fs from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { InvalidDataError, NotFoundError } from "../errors.ts";
import { importImage } from "./import.ts";
import { listImages } from "./list.ts";
import { resolveImage } from "./resolve.ts";
import { hasCommand, listing, tempDir } from "./test_util.ts";

const root = needsRoot();
const noZstd = hasCommand("zstd") ? false : "the zstd CLI is not installed";

/** A small rootfs made with the system tools, plus its tar in every compression. */
async function fixture() {
  const dir = await tempDir();
  const rootfs = `${dir}/rootfs`;
  await fs.mkdir(`${rootfs}/bin`, { recursive: true });
  await fs.mkdir(`${rootfs}/etc`);
  await fs.writeFile(`${rootfs}/etc/hostname`, "box\n");
  await fs.writeFile(`${rootfs}/bin/tool`, "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await fs.chmod(`${rootfs}/bin/tool`, 0o4755);
  await fs.chown(`${rootfs}/etc/hostname`, 42, 43);
  await fs.symlink("tool", `${rootfs}/bin/alias`);
  await fs.link(`${rootfs}/bin/tool`, `${rootfs}/bin/tool2`);
  execFileSync("mkfifo", [`${rootfs}/etc/fifo`]);
  await fs.utimes(`${rootfs}/etc/hostname`, 1_000_000, 1_000_000);
  execFileSync("tar", ["-C", rootfs, "--numeric-owner", "-cf", `${dir}/rootfs.tar`, "."]);
  execFileSync("sh", ["-c", `gzip -c ${dir}/rootfs.tar > ${dir}/rootfs.data1`]);
  if (!noZstd) execFileSync("sh", ["-c", `zstd -q -c ${dir}/rootfs.tar > ${dir}/rootfs.data2`]);
  return { dir, rootfs };
}

async function checkRootfs(diff: string) {
  assertEquals(await fs.readFile(`${diff}/etc/hostname`, "utf8"), "box\n");
  const h = await fs.lstat(`${diff}/etc/hostname`);
  assertEquals([h.uid, h.gid, h.mtimeMs], [42, 43, 1_000_000_000]);
  assertEquals((await fs.lstat(`${diff}/bin/tool`)).mode & 0o7777, 0o4755);
  assertEquals((await fs.lstat(`${diff}/bin/tool`)).ino, (await fs.lstat(`${diff}/bin/tool2`)).ino);
  assertEquals(await fs.readlink(`${diff}/bin/alias`), "tool");
  assert((await fs.lstat(`${diff}/etc/fifo`)).isFIFO(), "fifo");
}

test(
  "importImage: plain, gzip and zstd tars (by magic bytes) share one unpacked layer",
  async () => {
    const { dir } = await fixture();
    const store = `${dir}/store`;
    const plain = await importImage(store, `${dir}/rootfs.tar`, "box:plain");
    const gz = await importImage(store, `${dir}/rootfs.data1`, "box:gz");
    assertEquals(plain.config.rootfs.diff_ids, gz.config.rootfs.diff_ids);
    assertEquals(plain.layerDirs, gz.layerDirs);
    await checkRootfs(plain.layerDirs[0]);
    assertEquals((await fs.readdir(`${store}/layers`)).length, 1, "layer stored once");
    const manifest = JSON.parse(
      await fs.readFile(`${store}/blobs/sha256/${gz.manifestDigest.slice(7)}`, "utf8"),
    );
    assertEquals(manifest.layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    assertEquals(manifest.config.digest, gz.id);
    assertEquals(gz.config.os, "linux");
    assertEquals(gz.config.config?.Env, [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    assertEquals(gz.config.config?.Cmd, undefined);
    assertEquals(gz.repoTags, ["box:gz"]);
    if (!noZstd) {
      const zs = await importImage(store, `${dir}/rootfs.data2`, "box:zst", {
        config: { Cmd: ["/bin/sh"] },
      });
      assertEquals(zs.layerDirs, plain.layerDirs);
      assertEquals(zs.config.config?.Cmd, ["/bin/sh"]);
      const m = JSON.parse(
        await fs.readFile(`${store}/blobs/sha256/${zs.manifestDigest.slice(7)}`, "utf8"),
      );
      assertEquals(m.layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar+zstd");
    }
    assertEquals((await fs.readdir(`${store}/tmp`)).length, 0, "no staging left");
  },
  { skip: root },
);

test("importImage: a directory is packed deterministically", async () => {
  const { dir, rootfs } = await fixture();
  const store = `${dir}/store`;
  const a = await importImage(store, rootfs, "dir:a", { created: new Date(0) });
  const b = await importImage(store, rootfs, "dir:b", { created: new Date(0) });
  assertEquals(a.id, b.id, "same tree and time, same image ID");
  assertEquals(b.repoTags, ["dir:a", "dir:b"]);
  await checkRootfs(a.layerDirs[0]);
  assertEquals((await listImages(store)).length, 1);
}, { skip: root });

test("importImage: a stream source", async () => {
  const { dir } = await fixture();
  const data = await fs.readFile(`${dir}/rootfs.data1`);
  const img = await importImage(
    `${dir}/store`,
    (async function* () {
      for (let i = 0; i < data.length; i += 1000) yield new Uint8Array(data.subarray(i, i + 1000));
    })(),
    "streamed",
  );
  await checkRootfs(img.layerDirs[0]);
  assertEquals((await resolveImage(`${dir}/store`, "streamed:latest")).id, img.id);
}, { skip: root });

test("importImage: not a tar leaves the store unchanged", async () => {
  const { dir } = await fixture();
  const store = `${dir}/store`;
  await importImage(store, `${dir}/rootfs.tar`, "box");
  const before = await listing(store);
  await fs.writeFile(
    `${dir}/notes.txt`,
    "just some text, certainly not a tar archive\n".repeat(40),
  );
  execFileSync("sh", ["-c", `gzip -c ${dir}/notes.txt > ${dir}/notes.gz`]);
  await fs.writeFile(`${dir}/empty`, "");
  const tar = await fs.readFile(`${dir}/rootfs.tar`);
  await fs.writeFile(`${dir}/truncated.tar`, tar.subarray(0, 1536));
  for (const f of ["notes.txt", "notes.gz", "empty"]) {
    const e = await assertRejects(
      () => importImage(store, `${dir}/${f}`, "bad"),
      /^import .*: not a tar archive/,
    );
    assert(e instanceof InvalidDataError, f);
    assertEquals(await listing(store), before, f);
  }
  await assertRejects(
    () => importImage(store, `${dir}/truncated.tar`, "bad"),
    /unexpected end of archive/,
  );
  assertEquals(await listing(store), before);
  await assertRejects(() => resolveImage(store, "bad"), /no such image: bad/);
  // A fresh store gains no files either (only its empty skeleton directories).
  const fresh = `${dir}/fresh`;
  await assertRejects(() => importImage(fresh, `${dir}/notes.txt`), /not a tar archive/);
  assertEquals((await listing(fresh)).filter((l) => !l.endsWith(" d")), []);
}, { skip: root });

test("resolveImage: by tag, full id and unique prefix; unknown is NotFoundError", async () => {
  const { dir } = await fixture();
  const store = `${dir}/store`;
  const img = await importImage(store, `${dir}/rootfs.tar`, "reg:5000/team/box:v1");
  const hex = img.id.slice(7);
  for (const r of ["reg:5000/team/box:v1", img.id, hex.slice(0, 3), hex.slice(0, 12), hex]) {
    const got = await resolveImage(store, r);
    assertEquals(got.id, img.id, r);
    assertEquals(got.repoTags, ["reg:5000/team/box:v1"], r);
    assertEquals(
      got.layerDirs,
      [`${store}/layers/${img.config.rootfs.diff_ids[0].slice(7)}/diff`],
      r,
    );
  }
  assertEquals((await resolveImage(store, `reg:5000/team/box@${img.manifestDigest}`)).id, img.id);
  for (const r of ["reg:5000/team/box", "ab", "nope", "sha256:" + "0".repeat(64)]) {
    const e = await assertRejects(() => resolveImage(store, r), new RegExp(`no such image: ${r}`));
    assert(e instanceof NotFoundError, r);
  }
}, { skip: root });
