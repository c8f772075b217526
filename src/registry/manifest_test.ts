import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import {
  MEDIA_TYPES,
  parseManifest,
  parsePlatform,
  platformMatches,
  selectPlatform,
} from "./manifest.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const D = (c: string) => "sha256:" + c.repeat(64);

test("platforms parse and match with default variants", async () => {
  assertEquals(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64" });
  assertEquals(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assertEquals(parsePlatform("linux/arm/v7"), { os: "linux", architecture: "arm", variant: "v7" });
  await assertRejects(() => parsePlatform("arm64"), /expected os\/arch\[\/variant\]/);
  const want = parsePlatform("linux/arm64/v8");
  assertEquals(platformMatches({ os: "linux", architecture: "arm64" }, want), true);
  assertEquals(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, want), true);
  assertEquals(platformMatches({ os: "linux", architecture: "amd64" }, want), false);
  const list = [
    {
      mediaType: MEDIA_TYPES.ociManifest,
      digest: D("a"),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v6" },
    },
    {
      mediaType: MEDIA_TYPES.ociManifest,
      digest: D("b"),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
  ];
  assertEquals(selectPlatform(list, parsePlatform("linux/arm/v7"), "x").digest, D("b"));
  await assertRejects(
    () => selectPlatform(list, parsePlatform("linux/arm64"), "x"),
    /no matching manifest for linux\/arm64 in the manifest list of x \(it has: linux\/arm\/v6, linux\/arm\/v7\)/,
  );
});

test("manifests: media type from the body, else the header; bad ones refused", async () => {
  const image = {
    schemaVersion: 2,
    config: {
      mediaType: "application/vnd.docker.container.image.v1+json",
      digest: D("c"),
      size: 2,
    },
    layers: [{
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      digest: D("d"),
      size: 3,
    }],
  };
  const p = parseManifest(enc(image), MEDIA_TYPES.dockerManifest, "x");
  assertEquals([p.kind, p.mediaType], ["image", MEDIA_TYPES.dockerManifest]);
  const q = parseManifest(
    enc({ ...image, mediaType: MEDIA_TYPES.ociManifest }),
    "application/json",
    "x",
  );
  assertEquals(q.mediaType, MEDIA_TYPES.ociManifest);
  const idx = parseManifest(enc({ schemaVersion: 2, manifests: [] }), "", "x");
  assertEquals([idx.kind, idx.mediaType], ["index", MEDIA_TYPES.ociIndex]);
  const bad: [unknown, RegExp][] = [
    [[1, 2], /not a JSON object/],
    [{ ...image, schemaVersion: 3 }, /schemaVersion is not 2/],
    [{ ...image, layers: [{ ...image.layers[0], size: -1 }] }, /layers\[0\] has no valid size/],
    [{ ...image, layers: "x" }, /no layers list/],
    [{
      ...image,
      config: { ...image.config, mediaType: "application/vnd.cncf.helm.config.v1+json" },
    }, /not a container image/],
    [{
      ...image,
      layers: [{
        ...image.layers[0],
        mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      }],
    }, /foreign layer/],
    [{
      ...image,
      layers: [{
        ...image.layers[0],
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
      }],
    }, /encrypted layer/],
    [
      { schemaVersion: 2, mediaType: MEDIA_TYPES.dockerList, manifests: [{ digest: "x" }] },
      /manifests\[0\] has no sha256 digest/,
    ],
  ];
  for (const [doc, re] of bad) {
    await assertRejects(() => parseManifest(enc(doc), MEDIA_TYPES.dockerManifest, "x"), re);
  }
});
