/**
 * Issue 3, interop and bad input: `hako save` read by the real tools from Debian (podman
 * load, skopeo copy docker-archive:, umoci unpack of the OCI layout), `hako load` of what
 * podman save and skopeo copy oci-archive: write, and damaged archives refused with the
 * store left as it was.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox, run } from "../fixtures.ts";
import { hakoArgv, Store } from "../hako.ts";
import * as fs from "../../ffi/fs.ts";
import { hasCommand, listing } from "../../src/image/test_util.ts";

const skip = needsRoot() || await needsBusybox();
const tools = (...cmds: string[]) => {
  const missing = cmds.filter((c) => !hasCommand(c));
  return missing.length
    ? `needs ${missing.join(", ")} (apt-get install ${missing.join(" ")})`
    : false;
};

async function storeState(root: string): Promise<string> {
  const parts = [];
  for (const d of ["blobs", "layers"]) {
    const files = await fs.exists(`${root}/${d}`) ? await listing(`${root}/${d}`) : [];
    parts.push(d, ...files.filter((l) => !l.endsWith(" d"))); // empty dirs are not state
  }
  for (const f of ["images.json", "repositories.json"]) {
    parts.push(f, await fs.readText(`${root}/${f}`).catch(() => ""));
  }
  return parts.join("\n");
}

/** A store with bb:1 and a two-layer app:1 (a commit on top of it); and app:1's ID. */
async function appStore(): Promise<Store & { appId?: string }> {
  const s: Store & { appId?: string } = await Store.create("bb:1");
  await s.ok("run", "--name", "w", "bb:1", "sh", "-c", "echo app > /app.txt; rm /etc/group");
  s.appId = (await s.ok("commit", "-c", 'CMD ["cat", "/app.txt"]', "w", "app:1")).trim();
  await s.ok("rm", "w");
  return s;
}

/** podman with its own storage under `dir` (vfs: no mounts to clean up). */
function podman(dir: string, ...args: string[]) {
  return run([
    "podman",
    "--root",
    `${dir}/root`,
    "--runroot",
    `${dir}/run`,
    "--tmpdir",
    `${dir}/tmp`,
    "--storage-driver",
    "vfs",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "none",
    ...args,
  ], { check: false });
}

test(
  "save: one tar that podman load, skopeo docker-archive: and umoci (OCI layout) read",
  async () => {
    const s = await appStore();
    const work = await fs.makeTempDir({ prefix: "hako-interop-" });
    try {
      const tar = `${work}/apps.tar`;
      await s.ok("save", "-o", tar, "app:1", "bb:1");
      const names = (await run(["tar", "-tf", tar])).stdout.split("\n");
      for (const n of ["manifest.json", "index.json", "oci-layout"]) assert(names.includes(n), n);
      const appId = s.appId!;

      const p = await podman(work, "load", "-i", tar);
      assertEquals(p.code, 0, `podman load: ${p.stderr}`);
      const imgs = await podman(
        work,
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
      );
      assert(imgs.stdout.includes("localhost/app:1"), imgs.stdout);
      assert(
        imgs.stdout.includes(appId.replace(/^sha256:/, "")) || imgs.stdout.includes(appId),
        `same image ID ${appId}: ${imgs.stdout}`,
      );

      const sk = await run(
        ["skopeo", "copy", `docker-archive:${tar}:app:1`, `oci:${work}/sk:app`],
        { check: false },
      );
      assertEquals(sk.code, 0, `skopeo: ${sk.stderr}`);

      await run(["mkdir", "-p", `${work}/layout`]);
      await run(["tar", "-xf", tar, "-C", `${work}/layout`]);
      const um = await run(
        ["umoci", "unpack", "--image", `${work}/layout:app:1`, `${work}/bundle`],
        {
          check: false,
        },
      );
      assertEquals(um.code, 0, `umoci: ${um.stderr}`);
      assertEquals(await fs.readText(`${work}/bundle/rootfs/app.txt`), "app\n");
      assertEquals(
        await fs.exists(`${work}/bundle/rootfs/etc/group`),
        false,
        "the whiteout applied",
      );
      assert(await fs.exists(`${work}/bundle/rootfs/bin/busybox`));
    } finally {
      await s.cleanup();
      await fs.remove(work, { recursive: true });
    }
  },
  { skip: skip || tools("podman", "skopeo", "umoci") },
);

test("load: podman save (docker-archive) and skopeo copy oci-archive: outputs", async () => {
  const s = await appStore();
  const t = await Store.create();
  const work = await fs.makeTempDir({ prefix: "hako-interop-" });
  try {
    const tar = `${work}/apps.tar`;
    await s.ok("save", "-o", tar, "app:1");
    assertEquals((await podman(work, "load", "-i", tar)).code, 0);
    const ps = await podman(
      work,
      "save",
      "--format",
      "docker-archive",
      "-o",
      `${work}/podman.tar`,
      "localhost/app:1",
    );
    assertEquals(ps.code, 0, `podman save: ${ps.stderr}`);
    const sk = await run([
      "skopeo",
      "copy",
      `docker-archive:${tar}:app:1`,
      `oci-archive:${work}/oci.tar:sk/app:2`,
    ], { check: false });
    assertEquals(sk.code, 0, `skopeo: ${sk.stderr}`);

    assertEquals(await t.ok("load", "-i", `${work}/podman.tar`), "Loaded image: localhost/app:1\n");
    assertEquals(await t.ok("load", "-i", `${work}/oci.tar`), "Loaded image: sk/app:2\n");
    assertEquals(await t.ok("run", "--rm", "localhost/app:1"), "app\n");
    assertEquals(await t.ok("run", "--rm", "sk/app:2"), "app\n");
    assertEquals(
      await t.ok("run", "--rm", "sk/app:2", "sh", "-c", "ls /etc/group 2>&1 || true"),
      "ls: /etc/group: No such file or directory\n",
    );
    // Our own archive through stdin, gzip-compressed as a whole.
    await run(["gzip", "-k", tar]);
    const u = await Store.create();
    try {
      const r = await run([
        "sh",
        "-c",
        `"$@" < ${tar}.gz`,
        "sh",
        ...hakoArgv(),
        "--root",
        u.root,
        "load",
      ]);
      assertEquals(r.stdout, "Loaded image: app:1\n");
    } finally {
      await u.cleanup();
    }
  } finally {
    await s.cleanup();
    await t.cleanup();
    await fs.remove(work, { recursive: true });
  }
}, { skip: skip || tools("podman", "skopeo") });

test(
  "load: corrupt, truncated, wrong digest, bad JSON, not an archive: one error, store unchanged",
  async () => {
    const s = await appStore();
    const t = await Store.create();
    const work = await fs.makeTempDir({ prefix: "hako-bad-" });
    try {
      await s.ok("save", "-o", `${work}/good.tar`, "app:1");
      const dir = `${work}/x`;
      await run(["mkdir", "-p", dir]);
      await run(["tar", "-xf", `${work}/good.tar`, "-C", dir]);
      const manifest = JSON.parse(await fs.readText(`${dir}/manifest.json`));
      const [first, top] = manifest[0].Layers as string[];
      const config = manifest[0].Config as string;
      const variant = async (name: string, change: (d: string) => Promise<void>) => {
        const d = `${work}/${name}`;
        await run(["cp", "-a", dir, d]);
        await change(d);
        await run(["tar", "-cf", `${d}.tar`, "-C", d, "."]);
        return `${d}.tar`;
      };
      const flip = async (path: string, at: number) => {
        const b = await fs.readFile(path);
        b[at] ^= 0xff;
        await fs.writeFile(path, b);
      };
      const cases: [string, string, RegExp][] = [
        [
          "corrupt",
          await variant("corrupt", (d) => flip(`${d}/${top}`, 40)),
          /^hako: load: layer sha256:[0-9a-f]{64}: (gzip: .*|blob digest mismatch.*|tar: .*|layer diff_id mismatch.*)\n$/,
        ],
        [
          "truncated",
          await variant("truncated", async (d) => {
            const b = await fs.readFile(`${d}/${top}`);
            await fs.writeFile(`${d}/${top}`, b.subarray(0, Math.floor(b.length / 2)));
          }),
          /^hako: load: layer sha256:[0-9a-f]{64}: gzip: unexpected end of file\n$/,
        ],
        [
          "wrong digest",
          await variant("digest", async (d) => {
            await run(["cp", `${d}/${top}`, `${d}/${first}`]);
          }),
          /^hako: load: layer sha256:[0-9a-f]{64}: .*mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\n$/,
        ],
        [
          "config digest",
          await variant("config", (d) => flip(`${d}/${config}`, 10)),
          /^hako: load: config blobs\/sha256\/[0-9a-f]{64} digest mismatch/,
        ],
        [
          "manifest not JSON",
          await variant("json", (d) => fs.writeFile(`${d}/manifest.json`, "[{not json")),
          /^hako: load: manifest manifest.json is not valid JSON: /,
        ],
        [
          "not an archive",
          await (async () => {
            await fs.writeFile(`${work}/junk.tar`, "this is not a tar file at all\n".repeat(40));
            return `${work}/junk.tar`;
          })(),
          /^hako: load: not a tar archive\n$/,
        ],
      ];
      const before = await storeState(t.root);
      for (const [what, file, re] of cases) {
        const r = await t.hako(["load", "-i", file]);
        assertEquals(r.code, 125, `${what}: exit code (${r.stderr})`);
        assert(re.test(r.stderr), `${what}: ${JSON.stringify(r.stderr)}`);
        assertEquals(await storeState(t.root), before, `${what}: the store is unchanged`);
        assertEquals(
          await fs.readDir(`${t.root}/tmp`).catch(() => []),
          [],
          `${what}: nothing staged`,
        );
      }
      // The undamaged archive still loads; so does one of two images sharing their base layer.
      assertEquals(await t.ok("load", "-i", `${work}/good.tar`), "Loaded image: app:1\n");
      await s.ok("save", "-o", `${work}/two.tar`, "app:1", "bb:1");
      const u = await Store.create();
      try {
        assertEquals(
          await u.ok("load", "-i", `${work}/two.tar`),
          "Loaded image: app:1\nLoaded image: bb:1\n",
        );
        assertEquals(await u.ok("run", "--rm", "app:1"), "app\n");
      } finally {
        await u.cleanup();
      }
    } finally {
      await s.cleanup();
      await t.cleanup();
      await fs.remove(work, { recursive: true });
    }
  },
  { skip },
);

test(
  "system df and prune: build cache and dangling images are reclaimed, used images kept",
  async () => {
    const s = await appStore();
    const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
    try {
      await fs.writeFile(
        `${ctx}/Dockerfile`,
        "FROM bb:1 AS b\nRUN echo x > /x && echo y > /y\nFROM bb:1\nCOPY --from=b /x /x\n",
      );
      await s.ok("build", "-t", "ms:1", ctx);
      await s.ok("build", "-t", "ms:1", "--build-arg", "X=1", ctx); // same image, unused arg
      const df = await s.ok("system", "df");
      assert(/^Images\s+3\s+0\s+/m.test(df), df);
      assert(/^Build Cache\s+1\s+/m.test(df), df); // the builder stage's RUN layer
      await s.ok("tag", "app:1", "keep:1");
      await s.ok("rmi", "app:1");
      await s.ok("run", "--name", "user", "bb:1", "true");
      const out = await s.ok("system", "prune", "-a", "-f");
      assert(out.includes("Deleted Containers:"), out);
      assert(/Total reclaimed space: [1-9]/.test(out), out);
      const images = await s.ok("images");
      assert(!images.includes("ms") && !images.includes("keep"), images);
      // No container uses bb:1 any more either (the stopped one was pruned first).
      assert(!images.includes("bb"), images);
      assertEquals((await fs.readDir(`${s.root}/layers`)).length, 0);
      assertEquals((await fs.readDir(`${s.root}/blobs/sha256`)).length, 0);
    } finally {
      await s.cleanup();
      await fs.remove(ctx, { recursive: true });
    }
  },
  { skip },
);
