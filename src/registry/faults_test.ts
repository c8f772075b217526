/**
 * The bad cases, made on purpose by a proxy in front of a real registry: a corrupted byte,
 * a connection cut mid-layer, 429/503 answers, a redirect to blob storage, a malformed
 * manifest; and multi-platform indexes.
 */

import * as fs from "node:fs/promises";
import { makeTempDir } from "../../ffi/fs.ts";
import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { InvalidDataError, NotFoundError } from "../errors.ts";
import { readImageIndex, readRepositories } from "../image/store.ts";
import { sha256Digest } from "./client.ts";
import { MEDIA_TYPES } from "./manifest.ts";
import { pullImage } from "./pull.ts";
import { pushImage } from "./push.ts";
import { busyboxLayer, layerTarGz, makeImage, makeWebapp, randomBytes } from "./test_images.ts";
import { FaultProxy } from "./test_proxy.ts";
import { needsHtpasswd, needsRegistry, TestRegistry } from "./test_registry.ts";

const noRegistry = await needsRegistry();

/** A registry holding webapp:1 (pushed from store `a`), a proxy in front, a fresh store `b`. */
async function setup(
  fn: (ctx: {
    reg: TestRegistry;
    proxy: FaultProxy;
    a: string;
    b: string;
    cfg: string;
    w: Awaited<ReturnType<typeof makeWebapp>>;
    layers: string[];
  }) => Promise<void>,
  auth?: { user: string; pass: string },
) {
  const reg = await TestRegistry.start(
    auth ? { kind: "htpasswd", users: { [auth.user]: auth.pass } } : { kind: "none" },
  );
  const proxy = await FaultProxy.start(reg.host);
  const dir = await makeTempDir({ prefix: "hako-registry-test-" });
  try {
    const a = `${dir}/a`, b = `${dir}/b`, cfg = `${dir}/config`;
    const w = await makeWebapp(a, "webapp", 512 * 1024);
    const credential = auth ? { username: auth.user, password: auth.pass } : undefined;
    await pushImage(a, "webapp:1", `${reg.host}/webapp:1`, { configDir: cfg, credential });
    const m = JSON.parse(
      await fs.readFile(`${a}/blobs/sha256/${w.img1.manifestDigest.slice(7)}`, "utf8"),
    );
    const layers = m.layers.map((l: { digest: string }) => l.digest);
    await fn({ reg, proxy, a, b, cfg, w, layers });
  } finally {
    await proxy.stop();
    await reg.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Everything in a store except the lock file, for before/after comparisons. */
async function storeListing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const n of await fs.readdir(d).catch(() => [] as string[])) {
      const st = await fs.lstat(`${d}/${n}`);
      out.push(`${rel}${n}`);
      if (st.isDirectory() && !(rel === "layers/" || rel.startsWith("layers/"))) {
        await walk(`${d}/${n}`, `${rel}${n}/`);
      }
    }
  };
  await walk(root, "");
  return out.filter((p) => p !== "lock" && p !== "tmp").sort();
}

test(
  "a corrupted byte in a layer is a digest error, and the store keeps nothing of it",
  async () => {
    await setup(async ({ proxy, b, cfg, layers }) => {
      const app = layers[1];
      proxy.fault = (m, p) =>
        m === "GET" && p.endsWith(app) ? { kind: "corrupt", at: 1000 } : undefined;
      const before = await storeListing(b);
      const e = await assertRejects(
        () => pullImage(b, `${proxy.host}/webapp:1`, { configDir: cfg }),
        new RegExp(
          `layer ${app}: (blob ${app} from 127\\.0\\.0\\.1:\\d+/webapp does not match its digest \\(got|blob digest mismatch: expected ${app}, got) sha256:[0-9a-f]{64}`,
        ),
      );
      assert(e instanceof InvalidDataError, "InvalidDataError");
      const after = await storeListing(b);
      assert(!after.includes(`blobs/sha256/${app.slice(7)}`), "no corrupt blob kept");
      assertEquals(await fs.readdir(`${b}/tmp`).catch(() => []), [], "no staging left");
      assertEquals(await readImageIndex(b), {}, "no image indexed");
      assertEquals(await readRepositories(b), {});
      // Only complete, verified blobs of the other layer may have been kept.
      for (const p of after.filter((x) => !before.includes(x) && x.startsWith("blobs/sha256/"))) {
        const data = new Uint8Array(await fs.readFile(`${b}/${p}`));
        assertEquals(sha256Digest(data), `sha256:${p.slice(13)}`);
      }
    });
  },
  { skip: noRegistry },
);

test("a connection cut mid-layer resumes with Range and fetches each byte once", async () => {
  await setup(async ({ proxy, b, cfg, layers, w }) => {
    const app = layers[1];
    proxy.fault = (m, p, n) =>
      m === "GET" && p.endsWith(app) && n === 0 ? { kind: "cut", after: 200_000 } : undefined;
    const r = await pullImage(b, `${proxy.host}/webapp:1`, {
      configDir: cfg,
      retryBaseMs: 10,
      progress: undefined,
    });
    const gets = proxy.seen.filter((s) => s.method === "GET" && s.path.endsWith(app));
    assertEquals(gets.map((g) => g.range ?? null), [null, "bytes=200000-"]);
    assertEquals(gets[1].status, 206);
    assertEquals(proxy.blobBytes(app), w.v1, "each byte of the layer once");
    assertEquals(r.id, w.id1);
  });
}, { skip: noRegistry });

test(
  "429 and 503 are retried with backoff; a cut that keeps happening is a clear error",
  async () => {
    await setup(async ({ proxy, b, cfg, layers, w }) => {
      const base = layers[0];
      proxy.fault = (m, p, n) => {
        if (p.includes("/manifests/") && n === 0) {
          return { kind: "status", status: 429, headers: { "retry-after": "0" } };
        }
        if (m === "GET" && p.endsWith(base) && n < 2) return { kind: "status", status: 503 };
        return undefined;
      };
      const r = await pullImage(b, `${proxy.host}/webapp:1`, { configDir: cfg, retryBaseMs: 10 });
      assertEquals(r.id, w.id1);
      const manifestGets = proxy.seen.filter((s) => s.path.includes("/manifests/"));
      assertEquals(manifestGets.map((s) => s.status), [429, 200]);
      assertEquals(
        proxy.seen.filter((s) => s.path.endsWith(base)).map((s) => s.status),
        [503, 503, 200],
      );
      // Always cut: gives up after maxResumes, saying where.
      const c = `${b}-2`;
      proxy.fault = (m, p) =>
        m === "GET" && p.endsWith(base) ? { kind: "cut", after: 1000 } : undefined;
      await assertRejects(
        () =>
          pullImage(c, `${proxy.host}/webapp:1`, { configDir: cfg, retryBaseMs: 1, maxResumes: 2 }),
        /download of blob sha256:[0-9a-f]{64} from 127\.0\.0\.1:\d+\/webapp broke off 3 times, last at byte 3000 of \d+/,
      );
      assertEquals(await readImageIndex(c), {});
      await fs.rm(c, { recursive: true, force: true });
    });
  },
  { skip: noRegistry },
);

test("a blob redirect to storage is followed without the registry's Authorization", async () => {
  const auth = { user: "u1", pass: "s3cret-pass" };
  await setup(async ({ proxy, b, cfg, layers, w }) => {
    proxy.storeAuth = "Basic " + btoa(`${auth.user}:${auth.pass}`);
    proxy.fault = (m, p) => m === "GET" && p.includes("/blobs/") ? { kind: "redirect" } : undefined;
    const r = await pullImage(b, `${proxy.host}/webapp:1`, {
      configDir: cfg,
      credential: { username: auth.user, password: auth.pass },
    });
    assertEquals(r.id, w.id1);
    const blobGets = proxy.seen.filter((s) => s.method === "GET" && s.path.includes("/blobs/"));
    assert(blobGets.length === 3 && blobGets.every((s) => s.authorization), "registry got auth");
    assertEquals(
      proxy.blobStore.map((s) => s.path.split("/").pop()).sort(),
      [...layers, w.id1].sort(),
    );
    assert(proxy.blobStore.every((s) => !s.authorization), "storage never sees the credential");
  }, auth);
}, { skip: noRegistry || needsHtpasswd() });

test("a malformed manifest is a clear InvalidDataError before anything is fetched", async () => {
  await setup(async ({ proxy, b, cfg }) => {
    const cases: [string, string, RegExp][] = [
      ["{not json", MEDIA_TYPES.ociManifest, /malformed manifest for .*webapp:1: not valid JSON/],
      [
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, layers: [] }),
        MEDIA_TYPES.ociManifest,
        /malformed manifest for .*: config is not a descriptor/,
      ],
      [
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.dockerManifest,
          config: {
            mediaType: "application/vnd.docker.container.image.v1+json",
            digest: "sha256:../../etc",
            size: 1,
          },
          layers: [],
        }),
        MEDIA_TYPES.dockerManifest,
        /malformed manifest for .*: config has no sha256 digest/,
      ],
      [
        JSON.stringify({ schemaVersion: 1, name: "webapp", fsLayers: [] }),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        /Docker schema 1 manifest format/,
      ],
    ];
    for (const [body, contentType, re] of cases) {
      proxy.fault = (_m, p) =>
        p.includes("/manifests/") ? { kind: "replace", body, contentType } : undefined;
      const e = await assertRejects(
        () => pullImage(b, `${proxy.host}/webapp:1`, { configDir: cfg }),
        re,
      );
      assert(e instanceof InvalidDataError);
    }
    assertEquals(proxy.seen.filter((s) => s.path.includes("/blobs/")).length, 0, "no blob fetched");
    assertEquals(await readImageIndex(b), {});
  });
}, { skip: noRegistry });

test("--platform picks from an OCI index and a Docker manifest list", async () => {
  const reg = await TestRegistry.start();
  const dir = await makeTempDir({ prefix: "hako-registry-test-" });
  try {
    const a = `${dir}/a`, cfg = `${dir}/config`;
    const base = await busyboxLayer();
    const app = await layerTarGz({ "app/payload": randomBytes(1000) });
    const amd = await makeImage(a, "multi:amd64", [base], { architecture: "amd64" });
    const arm = await makeImage(a, "multi:arm64", [base, app], { architecture: "arm64" });
    const descs = [];
    for (const [tag, arch] of [["amd64", "amd64"], ["arm64", "arm64"]]) {
      const r = await pushImage(a, `multi:${tag}`, `${reg.host}/multi:${tag}`, { configDir: cfg });
      descs.push({
        mediaType: MEDIA_TYPES.ociManifest,
        digest: r.digest,
        size: r.size,
        platform: {
          os: "linux",
          architecture: arch,
          ...(arch === "arm64" ? { variant: "v8" } : {}),
        },
      });
    }
    const attestation = { ...descs[0], platform: { os: "unknown", architecture: "unknown" } };
    for (
      const [tag, mediaType] of [["oci", MEDIA_TYPES.ociIndex], ["docker", MEDIA_TYPES.dockerList]]
    ) {
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType,
        manifests: [attestation, ...descs],
      });
      const res = await fetch(`http://${reg.host}/v2/multi/manifests/${tag}`, {
        method: "PUT",
        headers: { "content-type": mediaType },
        body,
      });
      assertEquals(res.status, 201, await res.text());
      for (
        const [platform, id] of [["linux/arm64", arm], ["linux/amd64", amd], [
          "linux/arm64/v8",
          arm,
        ]]
      ) {
        const b = `${dir}/b-${tag}-${platform.replaceAll("/", "-")}`;
        const r = await pullImage(b, `${reg.host}/multi:${tag}`, { configDir: cfg, platform });
        assertEquals(r.id, id, `${tag} ${platform}`);
      }
      const e = await assertRejects(
        () =>
          pullImage(`${dir}/c`, `${reg.host}/multi:${tag}`, {
            configDir: cfg,
            platform: "linux/s390x",
          }),
        /no matching manifest for linux\/s390x in the manifest list of .*multi:(oci|docker) \(it has: linux\/amd64, linux\/arm64\/v8\)/,
      );
      assert(e instanceof NotFoundError);
    }
    // A single-platform image asked for with another --platform is refused.
    await assertRejects(
      () =>
        pullImage(`${dir}/d`, `${reg.host}/multi:amd64`, {
          configDir: cfg,
          platform: "linux/arm64",
        }),
      /multi:amd64 is for linux\/amd64, not the requested linux\/arm64/,
    );
  } finally {
    await reg.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}, { skip: noRegistry });

test(
  "a chunked upload whose PATCH answer is lost starts over in a new session, once",
  async () => {
    await setup(async ({ proxy, a, b, cfg, w }) => {
      let patches = 0;
      proxy.fault = (m) => m === "PATCH" && ++patches === 2 ? { kind: "drop" } : undefined;
      const r = await pushImage(a, "webapp:2", `${proxy.host}/webapp:2`, {
        configDir: cfg,
        chunkSize: 64 * 1024,
        retryBaseMs: 10,
      });
      assert(
        proxy.seen.some((s) => s.method === "PATCH" && s.status === 0),
        "a PATCH answer was lost",
      );
      // Two blobs to upload (app layer, config), plus one fresh session after the loss.
      assertEquals(proxy.seen.filter((s) => s.method === "POST").length, 3);
      assertEquals(r.digest, w.img2.manifestDigest);
      const p = await pullImage(b, `${proxy.host}/webapp:2`, { configDir: cfg });
      assertEquals(p.id, w.id2);
    });
  },
  { skip: noRegistry },
);
