/** HTTPS: a TLS registry on 127.0.0.1 whose CA is given through certs.d, and without it. */

import * as fs from "node:fs/promises";
import { makeTempDir } from "../../ffi/fs.ts";
import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { RegistryUnavailableError } from "./errors.ts";
import { pullImage } from "./pull.ts";
import { pushImage } from "./push.ts";
import { makeWebapp } from "./test_images.ts";
import { needsOpenssl, needsRegistry, TestRegistry } from "./test_registry.ts";
import { schemesFor, Transport } from "./transport.ts";

test("scheme policy: HTTPS only, except loopback and --insecure-registry", () => {
  assertEquals(schemesFor("registry.example.com", []), ["https"]);
  assertEquals(schemesFor("registry.example.com:5000", ["registry.example.com:5000"]), [
    "https",
    "http",
  ]);
  assertEquals(schemesFor("registry.example.com:5000", ["registry.example.com"]), ["https"]);
  for (const r of ["127.0.0.1:5000", "localhost:5000", "localhost", "127.1.2.3"]) {
    assertEquals(schemesFor(r, []), ["http", "https"], r);
  }
  assertEquals(schemesFor("docker.io", []), ["https"]);
});

test(
  "a TLS registry is trusted through certs.d/<host>/ca.crt, and refused without it",
  async () => {
    const reg = await TestRegistry.start({ kind: "none" }, { tls: true });
    const dir = await makeTempDir({ prefix: "hako-registry-test-" });
    try {
      const a = `${dir}/a`, cfg = `${dir}/config`;
      const w = await makeWebapp(a);
      const e = await assertRejects(
        () => pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg, retries: 0 }),
        /cannot reach registry 127\.0\.0\.1:\d+: http: GET \/v2\/ answered 400 .*; https: GET https:\/\/127\.0\.0\.1:\d+\/v2\/: /,
      );
      assert(e instanceof RegistryUnavailableError);
      await fs.mkdir(`${cfg}/certs.d/${reg.host}`, { recursive: true });
      await fs.copyFile(`${reg.dir}/ca.crt`, `${cfg}/certs.d/${reg.host}/ca.crt`);
      const t = await Transport.connect(reg.host, { configDir: cfg });
      assertEquals(t.base, `https://${reg.host}`);
      t.close();
      await pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg });
      const p = await pullImage(`${dir}/b`, `${reg.host}/webapp:1`, { configDir: cfg });
      assertEquals(p.id, w.id1);
    } finally {
      await reg.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
  { skip: (await needsRegistry()) || needsOpenssl() },
);
