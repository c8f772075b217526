/**
 * Cross-checks with the tools everyone else uses, through one local registry: what skopeo
 * pushes (an OCI layout, and a docker-archive it converts to Docker schema2) hako pulls
 * with the same image ID and runs; what hako pushes skopeo copies back byte for byte and
 * podman pulls with the same image ID.
 */

import * as fs from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { makeTempDir } from "../../ffi/fs.ts";
import { run } from "../../test/fixtures.ts";
import { assert, assertEquals, needsRoot, test } from "../../test/harness.ts";
import { hakoArgv } from "../../test/hako.ts";
import { hostArchitecture } from "../image/import.ts";
import { pullImage } from "./pull.ts";
import { pushImage } from "./push.ts";
import { busyboxLayer, makeWebapp } from "./test_images.ts";
import { needsRegistry, TestRegistry } from "./test_registry.ts";

const noRegistry = await needsRegistry();

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const noSkopeo = has("skopeo") ? false : "needs skopeo (apt-get install skopeo)";
const noPodman = has("podman") ? false : "needs podman (apt-get install podman)";

const sha = (b: Uint8Array | string) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** An OCI image layout written by hand (no hako code): one busybox layer. */
async function ociLayout(dir: string): Promise<{ configDigest: string }> {
  const layer = await busyboxLayer();
  const diffId = sha(new Uint8Array(gunzipSync(layer)));
  const config = JSON.stringify({
    architecture: hostArchitecture(),
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["echo", "made-by-hand"] },
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(config),
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: sha(layer),
      size: layer.length,
    }],
  });
  await fs.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  for (const b of [layer, config, manifest]) {
    await fs.writeFile(`${dir}/blobs/sha256/${sha(b).slice(7)}`, b);
  }
  await fs.writeFile(`${dir}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  await fs.writeFile(
    `${dir}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: sha(manifest),
        size: manifest.length,
        annotations: { "org.opencontainers.image.ref.name": "1" },
      }],
    }),
  );
  return { configDigest: sha(config) };
}

test(
  "skopeo pushes (OCI and Docker schema2), hako pulls the same image ID and runs it",
  async () => {
    const reg = await TestRegistry.start();
    const dir = await makeTempDir({ prefix: "hako-registry-test-" });
    try {
      const { configDigest } = await ociLayout(`${dir}/layout`);
      await run([
        "skopeo",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        `oci:${dir}/layout:1`,
        `docker://${reg.host}/fromoci:1`,
      ]);
      await run(["skopeo", "copy", "-q", `oci:${dir}/layout:1`, `docker-archive:${dir}/a.tar:x:1`]);
      await run([
        "skopeo",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        `docker-archive:${dir}/a.tar`,
        `docker://${reg.host}/fromarchive:1`,
      ]);
      const cfg = `${dir}/config`;
      const oci = await pullImage(`${dir}/b`, `${reg.host}/fromoci:1`, { configDir: cfg });
      assertEquals(oci.id, configDigest);
      const arch = await pullImage(`${dir}/b`, `${reg.host}/fromarchive:1`, { configDir: cfg });
      const m = JSON.parse(
        await fs.readFile(`${dir}/b/blobs/sha256/${arch.manifestDigest.slice(7)}`, "utf8"),
      );
      assertEquals(m.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
      assertEquals(arch.id, configDigest, "docker-archive keeps the config, so the ID");
      if (!needsRoot()) {
        const r = await run([
          ...hakoArgv(),
          "--root",
          `${dir}/b`,
          "run",
          "--rm",
          `${reg.host}/fromarchive:1`,
        ], { check: false });
        assertEquals([r.code, r.stdout], [0, "made-by-hand\n"], r.stderr);
      }
    } finally {
      await reg.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
  { skip: noRegistry || noSkopeo },
);

test(
  "hako pushes; skopeo copies it back byte for byte and podman pulls the same image ID",
  async () => {
    const reg = await TestRegistry.start();
    const dir = await makeTempDir({ prefix: "hako-registry-test-" });
    const pm = await makeTempDir({ prefix: "hpm-" }); // podman wants a runroot under 50 chars
    const podmanArgs = [
      "--root",
      `${pm}/root`,
      "--runroot",
      `${pm}/run`,
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
    ];
    try {
      const a = `${dir}/a`;
      const w = await makeWebapp(a);
      const pushed = await pushImage(a, "webapp:2", `${reg.host}/webapp:2`, {
        configDir: `${dir}/c`,
      });
      const insp = JSON.parse(
        (await run(["skopeo", "inspect", "--tls-verify=false", `docker://${reg.host}/webapp:2`]))
          .stdout,
      );
      assertEquals(insp.Digest, pushed.digest);
      await run([
        "skopeo",
        "copy",
        "-q",
        "--src-tls-verify=false",
        `docker://${reg.host}/webapp:2`,
        `oci:${dir}/out:2`,
      ]);
      const index = JSON.parse(await fs.readFile(`${dir}/out/index.json`, "utf8"));
      assertEquals(index.manifests[0].digest, w.img2.manifestDigest, "manifest unchanged");
      const ours = await fs.readFile(`${a}/blobs/sha256/${w.img2.manifestDigest.slice(7)}`);
      const theirs = await fs.readFile(`${dir}/out/blobs/sha256/${w.img2.manifestDigest.slice(7)}`);
      assert(ours.equals(theirs), "same manifest bytes");
      if (!noPodman) {
        await run([
          "podman",
          ...podmanArgs,
          "pull",
          "-q",
          "--tls-verify=false",
          `${reg.host}/webapp:2`,
        ]);
        const id =
          (await run(["podman", ...podmanArgs, "images", "--no-trunc", "--format", "{{.ID}}"]))
            .stdout.trim();
        assertEquals(
          id.startsWith("sha256:") ? id : `sha256:${id}`,
          w.id2,
          "podman sees the same image ID",
        );
      }
    } finally {
      if (!noPodman) {
        await run(["podman", ...podmanArgs, "rmi", "-a", "-f"], { check: false });
        await run(["podman", ...podmanArgs, "system", "reset", "-f"], { check: false });
      }
      await fs.rm(pm, { recursive: true, force: true });
      await reg.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
  { skip: noRegistry || noSkopeo },
);
