import * as fs from "node:fs/promises";
import { assertEquals, needsRoot, test } from "../../test/harness.ts";
import { lsetxattr, makedev, mknod, S_IF } from "../../ffi/mod.ts";
import { containerChanges, packChanges } from "./changeset.ts";
import { LayeredTree } from "./layered.ts";
import { readTar } from "./tar_reader.ts";
import { tempDir } from "./test_util.ts";

const skip = needsRoot();

async function write(p: string, data = "", mode = 0o644) {
  await fs.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
  await fs.writeFile(p, data, { mode });
}
const whiteout = (p: string) => mknod(p, S_IF.IFCHR, makedev(0, 0));
const opaque = (p: string) => lsetxattr(p, "trusted.overlay.opaque", "y");

test("changeset: docker diff lines and the layer tar of an overlay upper dir", async () => {
  const d = await tempDir();
  try {
    const lower = `${d}/lower`, upper = `${d}/upper`;
    await write(`${lower}/etc/passwd`, "root\n");
    await write(`${lower}/etc/group`, "root\n");
    await write(`${lower}/home/app/x`, "x");
    await write(`${lower}/tmp/keep`);
    await fs.chmod(`${lower}/tmp`, 0o1777);
    await fs.utimes(`${lower}/etc`, 1000, 1000);
    await fs.mkdir(`${upper}/etc`, { recursive: true });
    await fs.utimes(`${upper}/etc`, 2000, 2000);
    whiteout(`${upper}/etc/group`);
    await write(`${upper}/etc/passwd`, "root\nnew\n");
    await write(`${upper}/etc/hosts`); // a mount point the runtime made
    await fs.mkdir(`${upper}/proc`); // likewise, with nothing else in it
    await fs.mkdir(`${upper}/home`);
    opaque(`${upper}/home`);
    await write(`${upper}/home/z`, "z");
    await write(`${upper}/new`, "n");
    const src = {
      upper,
      lowers: [lower],
      mountPoints: ["/proc", "/etc/hosts", "/etc/resolv.conf"],
    };
    const changes = (await containerChanges(src)).map((c) => `${c.kind} ${c.path}`);
    assertEquals(changes, [
      "C /etc",
      "D /etc/group",
      "C /etc/passwd",
      "C /home",
      "D /home/app",
      "A /home/z",
      "A /new",
    ]);
    const names: string[] = [];
    for await (const e of readTar(await packChanges(src, { epoch: 1500 }))) {
      names.push(`${e.header.name} ${e.header.type} ${e.header.mtime}`);
      for await (const _ of e.body());
    }
    assertEquals(names.slice(0, 2), ["etc/ directory 1500", "etc/.wh.group file 0"]);
    assertEquals(names.slice(3), [
      "home/ directory 1500",
      "home/.wh..wh..opq file 0",
      "home/z file 1500",
      "new file 1500",
    ]);
  } finally {
    await fs.rm(d, { recursive: true, force: true });
  }
}, { skip });

test("layered: merged view with whiteouts, opaque dirs and symlinks resolved inside", async () => {
  const d = await tempDir();
  try {
    const top = `${d}/top`, bottom = `${d}/bottom`;
    await write(`${bottom}/a/b`, "b");
    await write(`${bottom}/c/x`, "x");
    await write(`${bottom}/dir/old`, "o");
    await fs.symlink("/a", `${bottom}/e`);
    await fs.symlink("../../../a", `${bottom}/up`);
    await write(`${top}/a/new`, "n");
    whiteout(`${top}/c`);
    await write(`${top}/dir/y`, "y");
    opaque(`${top}/dir`);
    const t = new LayeredTree([top, bottom]);
    const all: string[] = [];
    for await (const w of t.walk("")) all.push(w.rel);
    assertEquals(all, ["a", "a/b", "a/new", "dir", "dir/y", "e", "up"]);
    assertEquals(await t.readdir("a"), ["b", "new"]);
    assertEquals(await t.lstat("c/x"), null);
    assertEquals(await t.resolve("/e/b"), "a/b");
    assertEquals(await t.resolve("up/new"), "a/new");
    assertEquals(await t.resolve("e", false), "e");
  } finally {
    await fs.rm(d, { recursive: true, force: true });
  }
}, { skip });
