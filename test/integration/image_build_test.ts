/**
 * Issue 3 through the CLI: commit and diff of a container's changes, Dockerfile builds with
 * the layer cache, reproducible builds, bad Dockerfiles, multi-stage builds, an interrupted
 * build, export → import, and the disk 50 containers take beyond their image.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox, run } from "../fixtures.ts";
import { hakoArgv, hostTraces, Store } from "../hako.ts";
import * as fs from "../../ffi/fs.ts";
import { listing } from "../../src/image/test_util.ts";

const skip = needsRoot() || await needsBusybox();

/** The store's image side as a listing (blobs, layers, indexes), to prove it unchanged. */
async function storeState(root: string): Promise<string> {
  const parts = [];
  for (const d of ["blobs", "layers", "buildcache"]) {
    const files = await fs.exists(`${root}/${d}`) ? await listing(`${root}/${d}`) : [];
    parts.push(d, ...files.filter((l) => !l.endsWith(" d"))); // empty dirs are not state
  }
  for (const f of ["images.json", "repositories.json"]) {
    parts.push(f, await fs.readText(`${root}/${f}`).catch(() => ""));
  }
  return parts.join("\n");
}

async function writeTree(dir: string, files: Record<string, string>) {
  for (const [p, data] of Object.entries(files)) {
    await fs.mkdir(`${dir}/${p}`.replace(/\/[^/]*$/, ""));
    await fs.writeFile(`${dir}/${p}`, data);
  }
}

async function layerCount(root: string): Promise<number> {
  return (await fs.readDir(`${root}/layers`)).length;
}

/** Disk use in bytes (allocated blocks, as `du`). */
async function du(path: string): Promise<number> {
  const r = await run(["du", "-s", "--block-size=1", path]);
  return Number(r.stdout.split(/\s/)[0]);
}

test(
  "commit: a container's added, changed and deleted files become one layer; diff lists them",
  async () => {
    const s = await Store.create("bb:1");
    try {
      await s.ok(
        "run",
        "--name",
        "web",
        "bb:1",
        "sh",
        "-c",
        "echo new > /added; echo more >> /etc/passwd; rm /etc/group; mkdir /srv; echo x > /srv/f",
      );
      const diff = await s.ok("diff", "web");
      assertEquals(diff, "A /added\nC /etc\nD /etc/group\nC /etc/passwd\nA /srv\nA /srv/f\n");
      const before = await layerCount(s.root);
      const id =
        (await s.ok("commit", "-m", "debug build", "-c", "ENV MODE=debug", "web", "webapp:debug"))
          .trim();
      assert(/^sha256:[0-9a-f]{64}$/.test(id), id);
      assertEquals(await layerCount(s.root), before + 1, "one new layer");
      const out = await s.ok(
        "run",
        "--rm",
        "webapp:debug",
        "sh",
        "-c",
        "cat /added /srv/f; tail -1 /etc/passwd; ls /etc/group 2>&1 || true; echo mode=$MODE",
      );
      assertEquals(
        out,
        "new\nx\nmore\nls: /etc/group: No such file or directory\nmode=debug\n",
      );
      // The original image and the container are unchanged.
      assert((await s.ok("run", "--rm", "bb:1", "cat", "/etc/group")).includes("root:x:0:"));
      const hist = await s.ok("history", "webapp:debug");
      assert(hist.split("\n")[1].includes("debug build"), hist);
      await s.ok("rm", "web");
      assert((await s.ok("images")).includes("webapp"), "rm of the container keeps the image");
      assertEquals(await hostTraces(s.root), []);
    } finally {
      await s.cleanup();
    }
  },
  { skip },
);

const DOCKERFILE = `FROM bb:1
ARG GREETING=hello
ENV APP_HOME=/app
WORKDIR $APP_HOME
RUN echo "$GREETING from RUN" > /built.txt
COPY deps.txt ./
RUN cp deps.txt /deps.copy
COPY src/ ./src/
LABEL org.example.app=webapp
CMD ["sh", "-c", "cat /built.txt /deps.copy /app/src/main.sh"]
`;

function stepsOf(out: string): { text: string; cached: boolean }[] {
  const steps: { text: string; cached: boolean }[] = [];
  for (const line of out.split("\n")) {
    const m = /^Step \d+\/\d+ : (.*)$/.exec(line);
    if (m) steps.push({ text: m[1], cached: false });
    else if (line === " ---> CACHED") steps[steps.length - 1].cached = true;
  }
  return steps;
}

test(
  "build: cache hits, a one-file edit reruns only from its COPY, history and image tree",
  async () => {
    const s = await Store.create("bb:1");
    const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
    try {
      await writeTree(ctx, {
        "Dockerfile": DOCKERFILE,
        "deps.txt": "left-pad\n",
        "src/main.sh": "echo v1\n",
        "src/util.sh": "true\n",
        "debug.log": "ignored\n",
        ".dockerignore": "*.log\n",
      });
      const first = await s.ok("build", "-t", "webapp:1", ctx);
      assert(first.includes("Successfully tagged webapp:1"), first);
      assertEquals(stepsOf(first).filter((x) => x.cached).length, 0, "nothing cached at first");
      assertEquals(
        await s.ok("run", "--rm", "webapp:1"),
        "hello from RUN\nleft-pad\necho v1\n",
      );
      assertEquals(await s.ok("run", "--rm", "webapp:1", "ls", "/app"), "deps.txt\nsrc\n");

      const again = await s.ok("build", "-t", "webapp:1", ctx);
      const againSteps = stepsOf(again);
      assertEquals(
        againSteps.filter((x) => !x.cached).map((x) => x.text),
        ["FROM bb:1", "ARG GREETING=hello"],
        "every step that makes something is CACHED",
      );

      const layersBefore = await layerCount(s.root);
      const bytesBefore = await du(`${s.root}/layers`) + await du(`${s.root}/blobs`);
      await fs.writeFile(`${ctx}/src/main.sh`, "echo v2\n");
      const second = await s.ok("build", "-t", "webapp:2", ctx);
      const ran = stepsOf(second).filter((x) => !x.cached).map((x) => x.text);
      assertEquals(ran, [
        "FROM bb:1",
        "ARG GREETING=hello",
        "COPY src/ ./src/",
        "LABEL org.example.app=webapp",
        'CMD ["sh", "-c", "cat /built.txt /deps.copy /app/src/main.sh"]',
      ]);
      assertEquals(await layerCount(s.root), layersBefore + 1, "exactly one new layer");
      const added = await du(`${s.root}/layers`) + await du(`${s.root}/blobs`) - bytesBefore;
      assert(added > 0 && added < 64 * 1024, `the rebuild added ${added} bytes to the store`);
      assertEquals(await s.ok("run", "--rm", "webapp:2", "cat", "/app/src/main.sh"), "echo v2\n");

      const hist = await s.ok("history", "--no-trunc", "webapp:2");
      assert(/COPY src\/ \/app\/src\//.test(hist), hist);
      assert(
        /RUN \|1 GREETING=hello \/bin\/sh -c echo "\$GREETING from RUN" > \/built.txt/.test(hist),
        hist,
      );
      const tree = await s.ok("image", "tree");
      assert(/shared by 3 images/.test(tree), tree);
      assert(/webapp:1/.test(tree) && /webapp:2/.test(tree), tree);
      assert(/sharing saves [1-9]/.test(tree), tree);

      // --no-cache runs everything again; being reproducible, twice gives the same image.
      const nocache = await s.ok("build", "--no-cache", "-t", "webapp:3", ctx);
      assertEquals(stepsOf(nocache).filter((x) => x.cached).length, 0);
      const id3 = (await s.ok("build", "-q", "-t", "webapp:3", ctx)).trim();
      const id4 = (await s.ok("build", "--no-cache", "-q", "-t", "webapp:4", ctx)).trim();
      assertEquals(id4, id3);
      assertEquals(await hostTraces(s.root), []);
    } finally {
      await s.cleanup();
      await fs.remove(ctx, { recursive: true });
    }
  },
  { skip },
);

test("build: the same Dockerfile and context give the same image ID in another store", async () => {
  const a = await Store.create("bb:1");
  const b = await Store.create();
  const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
  try {
    // The same base image: load bb:1 from a into b, so its ID is the same.
    await s2s(a, b, "bb:1");
    await writeTree(ctx, { "Dockerfile": DOCKERFILE, "deps.txt": "x\n", "src/main.sh": "echo\n" });
    const idA = (await a.ok("build", "-q", "-t", "r:1", ctx)).trim();
    const idB = (await b.ok("build", "-q", "-t", "r:1", ctx)).trim();
    assert(/^sha256:[0-9a-f]{64}$/.test(idA), idA);
    assertEquals(idB, idA);
    const hist = async (s: Store) => (await s.ok("history", "-q", "--no-trunc", "r:1"));
    assertEquals(await hist(b), await hist(a));
  } finally {
    await a.cleanup();
    await b.cleanup();
    await fs.remove(ctx, { recursive: true });
  }
}, { skip });

/** Copies an image between stores with save and load. */
async function s2s(from: Store, to: Store, ref: string) {
  const tar = `${from.root}/xfer.tar`;
  await from.ok("save", "-o", tar, ref);
  await to.ok("load", "-i", tar);
  await fs.remove(tar);
}

test(
  "build: Dockerfile errors name file and line; COPY outside the context; store unchanged",
  async () => {
    const s = await Store.create("bb:1");
    const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
    try {
      const state = await storeState(s.root);
      await writeTree(ctx, { "Dockerfile": "FROM bb:1\nRUN echo hi\nCOPPY a /b\n", "a": "a" });
      let r = await s.hako(["build", "-t", "bad:1", ctx]);
      assertEquals(r.code, 125);
      assertEquals(
        r.stderr,
        "hako: Dockerfile:3: unknown instruction: COPPY (did you mean COPY?)\n",
      );
      await fs.writeFile(`${ctx}/Dockerfile`, "FROM bb:1\nRUN echo hi\nCOPY ../../etc/passwd /x\n");
      r = await s.hako(["build", "-t", "bad:1", ctx]);
      assertEquals(r.code, 125);
      assert(
        /^hako: Dockerfile:3: COPY failed: forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd\n$/
          .test(r.stderr),
        r.stderr,
      );
      await fs.symlink("/etc", `${ctx}/escape`);
      await fs.writeFile(`${ctx}/Dockerfile`, "FROM bb:1\nCOPY escape/passwd /x\n");
      r = await s.hako(["build", "-t", "bad:1", ctx]);
      assertEquals(r.code, 125);
      assert(/Dockerfile:2: COPY: file not found in build context/.test(r.stderr), r.stderr);
      await fs.writeFile(`${ctx}/Dockerfile`, "FROM nosuch:1\nRUN true\n");
      r = await s.hako(["build", ctx]);
      assert(/^hako: Dockerfile:1: FROM nosuch:1: no such image/.test(r.stderr), r.stderr);
      assertEquals(await storeState(s.root), state, "nothing was written");
      await fs.writeFile(`${ctx}/Dockerfile`, "FROM bb:1\nRUN exit 3\n");
      r = await s.hako(["build", "-t", "bad:1", ctx]);
      assertEquals(r.code, 1);
      assert(
        r.stderr.includes(
          "Dockerfile:2: the command '/bin/sh -c exit 3' returned a non-zero code: 3",
        ),
        r.stderr,
      );
      assertEquals(await s.containerIds(), [], "the step's container is gone");
      assert(!(await s.ok("images")).includes("bad"), "no image");
      assertEquals(await hostTraces(s.root), []);
    } finally {
      await s.cleanup();
      await fs.remove(ctx, { recursive: true });
    }
  },
  { skip },
);

test(
  "build: multi-stage with COPY --from, scratch, --target, --build-arg, ADD of a tar",
  async () => {
    const s = await Store.create("bb:1");
    const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
    try {
      await writeTree(ctx, {
        "Dockerfile": `ARG VERSION=0
FROM bb:1 AS builder
ARG VERSION
RUN mkdir -p /out/bin && echo "v$VERSION" > /out/version && cp /bin/busybox /out/bin/
FROM scratch AS final
COPY --from=builder /out/ /
ADD files.tar.gz /data/
COPY --chown=1000:1000 --chmod=600 secret.txt /data/
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/version", "/data/inner/hello.txt"]
FROM bb:1 AS unused
RUN exit 1
`,
        "secret.txt": "s",
        "inner/hello.txt": "hello from tar\n",
      });
      await run(["tar", "-C", ctx, "-czf", `${ctx}/files.tar.gz`, "inner"]);
      const out = await s.ok(
        "build",
        "--build-arg",
        "VERSION=7",
        "--target",
        "final",
        "-t",
        "ms:1",
        ctx,
      );
      assert(out.includes("Successfully tagged ms:1"), out);
      assert(!out.includes("RUN exit 1"), "an unneeded stage is not built");
      assertEquals(await s.ok("run", "--rm", "ms:1"), "v7\nhello from tar\n");
      assertEquals(
        await s.ok("run", "--rm", "ms:1", "stat", "-c", "%u:%g %a", "/data/secret.txt"),
        "1000:1000 600\n",
      );
      // Only the final stage's layers are in the image: busybox binary and the files.
      // dev, etc, proc, sys are the runtime's mount points, not in the image.
      assertEquals(
        await s.ok("run", "--rm", "ms:1", "ls", "/"),
        "bin\ndata\ndev\netc\nproc\nsys\nversion\n",
      );
      const hist = (await s.ok("history", "-q", "ms:1")).trim().split("\n");
      assertEquals(hist.length, 5); // CMD, ENTRYPOINT, COPY, ADD, COPY --from
    } finally {
      await s.cleanup();
      await fs.remove(ctx, { recursive: true });
    }
  },
  { skip },
);

test("build: an interrupted build leaves no image, no container, nothing staged", async () => {
  const s = await Store.create("bb:1");
  const ctx = await fs.makeTempDir({ prefix: "hako-ctx-" });
  try {
    await writeTree(ctx, { "Dockerfile": "FROM bb:1\nRUN echo one > /one\nRUN sleep 60\n" });
    const argv = [...hakoArgv(), "--root", s.root, "build", "-t", "slow:1", ctx];
    const r = await run([
      "sh",
      "-c",
      `"$@" >/dev/null 2>&1 & pid=$!
       for i in $(seq 400); do
         n=$(ls ${s.root}/containers 2>/dev/null | grep -c '^[0-9a-f]\\{64\\}$')
         [ "$n" -gt 0 ] && grep -q sleep ${s.root}/containers/*/config.json 2>/dev/null && break
         sleep 0.05
       done
       sleep 0.3; kill -TERM $pid; wait $pid; echo "exit=$?"`,
      "sh",
      ...argv,
    ]);
    assertEquals(r.stdout.trim(), "exit=143");
    assertEquals(await s.containerIds(), []);
    assert(!(await s.ok("images")).includes("slow"), "no image");
    assertEquals((await fs.readDir(`${s.root}/tmp`)).filter((n) => !n.startsWith("rm-")), []);
    assertEquals(await hostTraces(s.root), []);
  } finally {
    await s.cleanup();
    await fs.remove(ctx, { recursive: true });
  }
}, { skip });

test("export → import round trip gives the container's merged file system", async () => {
  const s = await Store.create("bb:1");
  try {
    await s.ok("run", "--name", "c1", "bb:1", "sh", "-c", "echo data > /root/f; rm /etc/group");
    const tar = `${s.root}/fs.tar`;
    await s.ok("export", "-o", tar, "c1");
    const list = (await run(["tar", "-tf", tar])).stdout.split("\n");
    assert(list.includes("root/f") && list.includes("bin/busybox"), "merged tree");
    assert(!list.includes("etc/group") && !list.some((n) => n.includes(".wh.")), "no whiteouts");
    await s.ok("import", tar, "flat:1");
    assertEquals(await s.ok("run", "--rm", "flat:1", "cat", "/root/f"), "data\n");
    const hist = (await s.ok("history", "-q", "flat:1")).trim().split("\n");
    assertEquals(hist.length, 1, "one layer");
  } finally {
    await s.cleanup();
  }
}, { skip });

test("50 containers from one image: disk beyond the image is their upper dirs only", async () => {
  const s = await Store.create("bb:1");
  try {
    const image = await du(`${s.root}/layers`);
    for (let i = 0; i < 50; i++) {
      await s.ok("run", "--name", `c${i}`, "bb:1", "sh", "-c", `echo ${i} > /tmp/id`);
    }
    const ids = await s.containerIds();
    assertEquals(ids.length, 50);
    const containers = await du(`${s.root}/containers`);
    let uppers = 0;
    for (const id of ids) uppers += await du(`${s.root}/containers/${id}/upper`);
    assertEquals(await du(`${s.root}/layers`), image, "the image layers are untouched");
    assertEquals(await s.ok("diff", "c7"), "C /tmp\nA /tmp/id\n");
    console.log(
      `50 containers: image layers ${image} B on disk; containers/ ${containers} B ` +
        `(${Math.round(containers / 50)} B each), of which upper dirs ${uppers} B`,
    );
    assert(containers / 50 < 64 * 1024, `${containers / 50} B per container`);
  } finally {
    await s.cleanup();
  }
}, { skip });
