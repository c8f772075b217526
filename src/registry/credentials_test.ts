import * as fs from "node:fs/promises";
import { makeTempDir } from "../../ffi/fs.ts";
import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { findCredential, removeCredential, storeCredential } from "./credentials.ts";

test("credentials: stored 0600 in Docker's format, replaced, removed; bad JSON never quoted", async () => {
  const dir = await makeTempDir({ prefix: "hako-cred-test-" });
  try {
    const cfg = `${dir}/hako`;
    const path = await storeCredential("127.0.0.1:5000", { username: "u", password: "p:w" }, cfg);
    assertEquals(path, `${cfg}/auth.json`);
    assertEquals((await fs.stat(path)).mode & 0o777, 0o600);
    assertEquals((await fs.stat(cfg)).mode & 0o777, 0o700);
    assertEquals(await findCredential("127.0.0.1:5000", cfg), { username: "u", password: "p:w" });
    await storeCredential("127.0.0.1:5000", { username: "v", password: "q" }, cfg);
    await storeCredential("docker.io", { username: "hub", password: "h" }, cfg);
    const file = JSON.parse(await fs.readFile(path, "utf8"));
    assertEquals(Object.keys(file.auths).sort(), ["127.0.0.1:5000", "docker.io"]);
    assertEquals(await findCredential("127.0.0.1:5000", cfg), { username: "v", password: "q" });
    assertEquals(await removeCredential("127.0.0.1:5000", cfg), true);
    assertEquals(await removeCredential("127.0.0.1:5000", cfg), false);
    assertEquals(await findCredential("127.0.0.1:5000", cfg), undefined);
    await fs.writeFile(path, '{"auths": {"x": {"auth": "c2VjcmV0LXBhc3N3b3Jk"');
    const e = await assertRejects(() => findCredential("x", cfg), /not valid JSON/);
    assertEquals(e.message.includes("c2VjcmV0"), false);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
