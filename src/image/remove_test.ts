import * as fs from "node:fs/promises";
import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { ConflictError } from "../errors.ts";
import { importImage } from "./import.ts";
import { listImages } from "./list.ts";
import { removeImage } from "./remove.ts";
import { resolveImage } from "./resolve.ts";
import { tagImage } from "./tag.ts";
import { tarBytes, tempDir } from "./test_util.ts";

const root = needsRoot();

async function tarFile(dir: string, name: string, files: Record<string, string>) {
  const tar = await tarBytes(
    Object.entries(files).map(([n, data]) => ({
      header: { name: n, type: "file" as const },
      data,
    })),
  );
  await fs.writeFile(`${dir}/${name}`, tar);
  return `${dir}/${name}`;
}

test("tagImage, listImages and removeImage keep shared layers and respect inUse", async () => {
  const dir = await tempDir();
  const store = `${dir}/store`;
  const base = await tarFile(dir, "base.tar", { "a": "aaaa" });
  const other = await tarFile(dir, "other.tar", { "b": "bb" });
  const one = await importImage(store, base, "one", { created: new Date(1000) });
  const two = await importImage(store, base, "two", { created: new Date(2000) }); // same layer
  const three = await importImage(store, other, "three", { created: new Date(3000) });
  assertEquals(one.layerDirs, two.layerDirs);
  assertEquals((await fs.readdir(`${store}/layers`)).length, 2);

  await tagImage(store, "one", "one:extra");
  await assertRejects(() => tagImage(store, "missing", "x"), /no such image: missing/);
  const list = await listImages(store);
  assertEquals(list.map((i) => [i.id, i.repoTags, i.size]), [
    [three.id, ["three:latest"], 2],
    [two.id, ["two:latest"], 4],
    [one.id, ["one:extra", "one:latest"], 4],
  ]);
  assertEquals(list[2].created, new Date(1000).toISOString());

  // One of several tags: only untag.
  assertEquals(await removeImage(store, "one:extra"), { untagged: ["one:extra"], deleted: [] });
  assertEquals((await resolveImage(store, one.id)).repoTags, ["one:latest"]);

  // In use: refused, and with force the tags go but the image stays.
  const inUse = (id: string) => id === one.id;
  const e = await assertRejects(
    () => removeImage(store, "one", { inUse }),
    /unable to remove image one: in use by a container \(use -f\)/,
  );
  assert(e instanceof ConflictError, "ConflictError");
  assertEquals(await removeImage(store, "one", { inUse, force: true }), {
    untagged: ["one:latest"],
    deleted: [],
  });
  assertEquals((await resolveImage(store, one.id)).repoTags, []);

  // Last reference to `one`: deleted, its layer kept for `two`.
  const r1 = await removeImage(store, one.id.slice(7, 19));
  assertEquals(r1.deleted, [one.id]);
  assertEquals(await fs.readdir(one.layerDirs[0]), ["a"]);
  await assertRejects(() => resolveImage(store, one.id), /no such image/);
  assert(
    await fs.stat(`${store}/blobs/sha256/${one.id.slice(7)}`).then(() => false, () => true),
    "config blob gone",
  );

  // Now `two` goes and takes the shared layer with it.
  const r2 = await removeImage(store, "two");
  assertEquals(r2, { untagged: ["two:latest"], deleted: [two.id, two.config.rootfs.diff_ids[0]] });
  assertEquals((await fs.readdir(`${store}/layers`)).length, 1);
  const blobs = await fs.readdir(`${store}/blobs/sha256`);
  assertEquals(blobs.length, 3, "only three's layer, config and manifest remain");
  await assertRejects(() => removeImage(store, "two"), /no such image: two/);
  assertEquals((await listImages(store)).map((i) => i.id), [three.id]);
}, { skip: root });

test("removeImage by id refuses an image with several tags unless forced", async () => {
  const dir = await tempDir();
  const store = `${dir}/store`;
  const img = await importImage(store, await tarFile(dir, "t.tar", { x: "x" }), "a");
  await tagImage(store, img.id, "b");
  await assertRejects(() => removeImage(store, img.id), /referenced by 2 tags/);
  const r = await removeImage(store, img.id, { force: true });
  assertEquals(r, {
    untagged: ["a:latest", "b:latest"],
    deleted: [img.id, img.config.rootfs.diff_ids[0]],
  });
  assertEquals(await listImages(store), []);
  assertEquals(await fs.readdir(`${store}/layers`), []);
  assertEquals(await fs.readdir(`${store}/blobs/sha256`), []);
}, { skip: root });

test("concurrent imports and tags under the store lock lose no update", async () => {
  const dir = await tempDir();
  const store = `${dir}/store`;
  const files = await Promise.all(
    [0, 1, 2, 3, 4, 5].map((i) => tarFile(dir, `t${i}.tar`, { [`f${i}`]: String(i) })),
  );
  await Promise.all(files.map((f, i) => importImage(store, f, `img${i}`)));
  const tags = (await listImages(store)).flatMap((i) => i.repoTags).sort();
  assertEquals(tags, files.map((_, i) => `img${i}:latest`));
}, { skip: root });
