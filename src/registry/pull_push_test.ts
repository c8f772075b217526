/**
 * Pull and push against a real registry (Debian's docker-registry on 127.0.0.1), counting
 * what moved by the registry's own access log.
 */

import * as fs from "node:fs/promises";
import { makeTempDir } from "../../ffi/fs.ts";
import { run } from "../../test/fixtures.ts";
import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { hakoArgv, hostTraces } from "../../test/hako.ts";
import { NotFoundError } from "../errors.ts";
import { resolveImage } from "../image/resolve.ts";
import { RegistryUnavailableError } from "./errors.ts";
import { pullImage } from "./pull.ts";
import { pushImage } from "./push.ts";
import { makeWebapp } from "./test_images.ts";
import { freePort, needsRegistry, TestRegistry } from "./test_registry.ts";

const noRegistry = await needsRegistry();

/** Two fresh stores and an empty config dir, removed afterwards. */
async function withStores(fn: (a: string, b: string, cfg: string) => Promise<void>) {
  const dir = await makeTempDir({ prefix: "hako-registry-test-" });
  try {
    await fn(`${dir}/a`, `${dir}/b`, `${dir}/config`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function blobGets(log: { method: string; path: string; status: number; bytes: number }[]) {
  return log.filter((e) => e.method === "GET" && e.path.includes("/blobs/sha256:"));
}

test("push then pull into a fresh store gives the same image ID, and it runs", async () => {
  const reg = await TestRegistry.start();
  try {
    await withStores(async (a, b, cfg) => {
      const w = await makeWebapp(a);
      const ref = `${reg.host}/webapp:1`;
      const pushed = await pushImage(a, "webapp:1", ref, { configDir: cfg });
      assertEquals(pushed.blobs.map((x) => x.action), ["pushed", "pushed", "pushed"]);
      assertEquals(pushed.digest, w.img1.manifestDigest);
      const pulled = await pullImage(b, ref, { configDir: cfg });
      assertEquals(pulled.id, w.id1, "same image ID after the round trip");
      assertEquals(pulled.manifestDigest, w.img1.manifestDigest);
      assertEquals(pulled.reference, ref);
      const img = await resolveImage(b, ref);
      assertEquals(img.config.rootfs.diff_ids, w.img1.config.rootfs.diff_ids);
      if (!needsRoot()) {
        const r = await run([...hakoArgv(), "--root", b, "run", "--rm", ref], { check: false });
        assertEquals([r.code, r.stdout, r.stderr], [0, "1\n", ""]);
        assertEquals(await hostTraces(b), []);
      }
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry });

test("pull of v2 after v1 fetches only the changed layer (registry access log)", async () => {
  const reg = await TestRegistry.start();
  try {
    await withStores(async (a, b, cfg) => {
      const w = await makeWebapp(a);
      await pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg });
      await pushImage(a, "webapp:2", `${reg.host}/webapp:2`, { configDir: cfg });
      const n0 = (await reg.accessLog()).length;
      const p1 = await pullImage(b, `${reg.host}/webapp:1`, { configDir: cfg });
      const log1 = await reg.accessLog();
      const p2 = await pullImage(b, `${reg.host}/webapp:2`, { configDir: cfg });
      const log2 = await reg.accessLog();
      const gets1 = blobGets(log1.slice(n0)), gets2 = blobGets(log2.slice(log1.length));
      const [baseDigest, v1Digest] = await manifestLayers(a, w.img1.manifestDigest);
      const v2Digest = (await manifestLayers(a, w.img2.manifestDigest))[1];
      const sum = (g: { bytes: number }[]) => g.reduce((n, e) => n + e.bytes, 0);
      const cfg1 = gets1.find((g) => g.path.endsWith(w.id1))!.bytes;
      const cfg2 = gets2.find((g) => g.path.endsWith(w.id2))!.bytes;
      assertEquals(sum(gets1), w.base + w.v1 + cfg1, "v1: base + app layer + config");
      assertEquals(sum(gets2), w.v2 + cfg2, "v2: only the new app layer + config");
      assert(!gets2.some((g) => g.path.includes(baseDigest)), "base not fetched again");
      assert(gets1.some((g) => g.path.includes(v1Digest)));
      assert(gets2.some((g) => g.path.includes(v2Digest)));
      assertEquals(p1.layers.map((l) => l.downloaded), [true, true]);
      assertEquals(p2.layers.map((l) => l.downloaded), [false, true]);
      assertEquals(p2.bytesDownloaded, w.v2 + cfg2);
      // And a third pull moves no blob at all.
      const p3 = await pullImage(b, `${reg.host}/webapp:2`, { configDir: cfg });
      assert(p3.upToDate, "up to date");
      assertEquals(blobGets((await reg.accessLog()).slice(log2.length)).length, 0);
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry });

async function manifestLayers(root: string, manifestDigest: string): Promise<string[]> {
  const m = JSON.parse(
    await fs.readFile(`${root}/blobs/sha256/${manifestDigest.slice(7)}`, "utf8"),
  );
  return m.layers.map((l: { digest: string }) => l.digest);
}

test(
  "push of v2 after v1 uploads only the new blobs; a second repository mounts them",
  async () => {
    const reg = await TestRegistry.start();
    try {
      await withStores(async (a, _b, cfg) => {
        const w = await makeWebapp(a);
        const r1 = await pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg });
        const n1 = (await reg.accessLog()).length;
        const r2 = await pushImage(a, "webapp:2", `${reg.host}/webapp:2`, { configDir: cfg });
        const log = (await reg.accessLog()).slice(n1);
        const [base, v2] = await manifestLayers(a, w.img2.manifestDigest);
        assertEquals(r2.blobs.map((x) => [x.digest, x.action]), [
          [base, "exists"],
          [v2, "pushed"],
          [w.id2, "pushed"],
        ]);
        assertEquals(r2.bytesUploaded, w.v2 + r2.blobs[2].size);
        const uploads = log.filter((e) => e.method === "PUT" && e.path.includes("/blobs/uploads/"));
        assertEquals(uploads.length, 2, "two blobs uploaded");
        assert(!uploads.some((e) => e.path.includes(base.slice(7))), "base not uploaded again");
        assert(log.some((e) => e.method === "HEAD" && e.path.endsWith(base) && e.status === 200));
        assertEquals(r1.bytesUploaded, w.base + w.v1 + r1.blobs[2].size);
        // Same registry, another repository: mounted, not uploaded.
        const n2 = (await reg.accessLog()).length;
        const r3 = await pushImage(a, "webapp:2", `${reg.host}/other/webapp:2`, { configDir: cfg });
        assertEquals(r3.blobs.map((x) => x.action), ["mounted", "mounted", "mounted"]);
        assertEquals(r3.bytesUploaded, 0);
        const log3 = (await reg.accessLog()).slice(n2);
        assertEquals(log3.filter((e) => e.path.includes("mount=") && e.status === 201).length, 3);
        // Pushing it all again sends no blob.
        const r4 = await pushImage(a, "webapp:2", `${reg.host}/webapp:2`, { configDir: cfg });
        assertEquals(r4.blobs.map((x) => x.action), ["exists", "exists", "exists"]);
      });
    } finally {
      await reg.stop();
    }
  },
  { skip: noRegistry },
);

test("chunked upload (PATCH with Content-Range) round-trips", async () => {
  const reg = await TestRegistry.start();
  try {
    await withStores(async (a, b, cfg) => {
      const w = await makeWebapp(a, "webapp", 300 * 1024);
      await pushImage(a, "webapp:1", `${reg.host}/chunky:1`, {
        configDir: cfg,
        chunkSize: 64 * 1024,
      });
      const patches = (await reg.accessLog()).filter((e) => e.method === "PATCH");
      assert(patches.length >= 5, `PATCH requests: ${patches.length}`);
      assert(patches.every((e) => e.status === 202));
      const p = await pullImage(b, `${reg.host}/chunky:1`, { configDir: cfg });
      assertEquals(p.id, w.id1);
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry });

test("unknown tag and repository are NotFoundError; an unreachable registry is clear", async () => {
  const reg = await TestRegistry.start();
  try {
    await withStores(async (a, b, cfg) => {
      await makeWebapp(a);
      await pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg });
      const e1 = await assertRejects(
        () => pullImage(b, `${reg.host}/webapp:nope`, { configDir: cfg }),
        /manifest for 127\.0\.0\.1:\d+\/webapp:nope not found: manifest_unknown/,
      );
      assert(e1 instanceof NotFoundError);
      const e2 = await assertRejects(
        () => pullImage(b, `${reg.host}/nothere:1`, { configDir: cfg }),
        /nothere:1 not found: (name|manifest)_unknown/,
      );
      assert(e2 instanceof NotFoundError);
      const port = await freePort();
      const e3 = await assertRejects(
        () =>
          pullImage(b, `127.0.0.1:${port}/webapp:1`, {
            configDir: cfg,
            retries: 1,
            retryBaseMs: 10,
          }),
        /cannot reach registry 127\.0\.0\.1:\d+: http: GET http:\/\/127\.0\.0\.1:\d+\/v2\/: /,
      );
      assert(e3 instanceof RegistryUnavailableError);
      assertEquals(await fs.readdir(b).catch(() => []), [], "nothing written on failures");
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry });

test("hako push/pull CLI: plain progress lines when not a tty, -q, one-line errors", async () => {
  const reg = await TestRegistry.start();
  try {
    await withStores(async (a, b, cfg) => {
      const w = await makeWebapp(a);
      const env = { HAKO_CONFIG: cfg };
      const hako = (...args: string[]) => run([...hakoArgv(), ...args], { check: false, env });
      const push = await hako("--root", a, "push", "webapp:1", `${reg.host}/webapp:1`);
      assertEquals(push.code, 0, push.stderr);
      const lines = push.stdout.trimEnd().split("\n");
      assertEquals(lines[0], `The push refers to repository [${reg.host}/webapp]`);
      assertEquals(lines.filter((l) => / Pushed \(/.test(l)).length, 3, push.stdout);
      assertEquals(
        lines.at(-1),
        `1: digest: ${w.img1.manifestDigest} size: ${lines.at(-1)!.split(" ").pop()}`,
      );
      const pull = await hako("--root", b, "pull", `${reg.host}/webapp:1`);
      assertEquals(pull.code, 0, pull.stderr);
      const pl = pull.stdout.trimEnd().split("\n");
      assertEquals(pl[0], "1: Pulling from webapp");
      assertEquals(pl.filter((l) => / Pull complete \(/.test(l)).length, 2, pull.stdout);
      assertEquals(pl.slice(-3), [
        `Digest: ${w.img1.manifestDigest}`,
        `Status: Downloaded newer image for ${reg.host}/webapp:1`,
        `${reg.host}/webapp:1`,
      ]);
      const again = await hako("--root", b, "pull", "-q", `${reg.host}/webapp:1`);
      assertEquals([again.code, again.stdout, again.stderr], [0, `${reg.host}/webapp:1\n`, ""]);
      const missing = await hako("--root", b, "pull", `${reg.host}/webapp:nope`);
      assertEquals(missing.code, 1);
      assertEquals(
        missing.stderr,
        `hako: manifest for ${reg.host}/webapp:nope not found: manifest_unknown: manifest unknown\n`,
      );
      const usage = await hako("--root", b, "pull", "--platform", "arm64", `${reg.host}/webapp:1`);
      assertEquals(usage.code, 125);
      assert(usage.stderr.includes("invalid platform"), usage.stderr);
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry });
