import { resolveInRoot } from "./rootpath.ts";
import * as fs from "../../ffi/fs.ts";
import { assertEquals, test } from "../../test/harness.ts";

test("rootpath: symlinks resolve inside the root, never above it", async () => {
  const d = await fs.makeTempDir({ prefix: "hako-rootpath-" });
  try {
    const lower = `${d}/lower`, upper = `${d}/upper`;
    await fs.mkdir(`${lower}/usr/etc`);
    await fs.mkdir(upper);
    await fs.symlink("/usr/etc", `${lower}/etc`);
    await fs.symlink("../../../../..", `${lower}/up`);
    await fs.symlink("/", `${upper}/abs`);
    assertEquals(await resolveInRoot([upper, lower], "/etc/passwd"), "usr/etc/passwd");
    assertEquals(await resolveInRoot([upper, lower], "/up/etc/shadow"), "usr/etc/shadow");
    assertEquals(await resolveInRoot([upper, lower], "/abs/../../x"), "x");
    assertEquals(await resolveInRoot([upper, lower], "/new/dir"), "new/dir");
    assertEquals(await resolveInRoot([upper, lower], "/"), "");
  } finally {
    await fs.remove(d, { recursive: true });
  }
});
