import * as fs from "./fs.ts";
import { assert, assertEquals, test } from "../test/harness.ts";

test("fs: atomic JSON write, read back, list, stat, remove", async () => {
  const dir = await fs.makeTempDir({ prefix: "hako-fs-" });
  try {
    await fs.writeJsonAtomic(`${dir}/a.json`, { x: 1 });
    assertEquals(await fs.readJson(`${dir}/a.json`), { x: 1 });
    assertEquals(await fs.readJsonOr(`${dir}/missing.json`, 5), 5);
    assertEquals(await fs.readDir(dir), ["a.json"]);
    const st = await fs.stat(`${dir}/a.json`);
    assert(st?.isFile && !st.isDirectory, "a.json is a file");
    assertEquals(await fs.stat(`${dir}/nope`), null);
    await fs.mkdir(`${dir}/x/y`);
    await fs.symlink("x", `${dir}/l`);
    assertEquals((await fs.lstat(`${dir}/l`))?.isSymlink, true);
    assertEquals(await fs.readLink(`${dir}/l`), "x");
    await fs.writeFile(`${dir}/x/log`, "a");
    await fs.writeFile(`${dir}/x/log`, "b", { append: true });
    assertEquals(await fs.readText(`${dir}/x/log`), "ab");
    await fs.remove(`${dir}/x`, { recursive: true });
    assertEquals(await fs.exists(`${dir}/x`), false);
  } finally {
    await fs.remove(dir, { recursive: true });
  }
});
