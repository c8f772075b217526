/**
 * Authentication against a real registry: htpasswd (Basic) and a bearer-token server
 * (the Docker Hub flow), through the library and through `hako login/pull/push/logout`.
 */

import * as fs from "node:fs/promises";
import { makeTempDir } from "../../ffi/fs.ts";
import { run } from "../../test/fixtures.ts";
import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { hakoArgv } from "../../test/hako.ts";
import { RegistryAuthError } from "./errors.ts";
import { login } from "./login.ts";
import { pullImage } from "./pull.ts";
import { pushImage } from "./push.ts";
import { makeWebapp } from "./test_images.ts";
import { needsHtpasswd, needsOpenssl, needsRegistry, TestRegistry } from "./test_registry.ts";

const noRegistry = await needsRegistry();
const USER = "alice";
const PASS = "correct-horse-7";
const WRONG = "wrong-battery-9";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await makeTempDir({ prefix: "hako-registry-test-" });
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

for (const kind of ["htpasswd", "token"] as const) {
  test(
    `${kind}: 401 without credentials, wrong password is clear, right one pushes and pulls`,
    async () => {
      const reg = await TestRegistry.start({ kind, users: { [USER]: PASS } });
      try {
        await withDir(async (dir) => {
          const a = `${dir}/a`, b = `${dir}/b`, cfg = `${dir}/config`;
          const w = await makeWebapp(a);
          const ref = `${reg.host}/private/webapp:1`;
          const e1 = await assertRejects(
            () => pushImage(a, "webapp:1", ref, { configDir: cfg }),
            /unauthorized: authentication required \(hako login 127\.0\.0\.1:\d+\)/,
          );
          assert(e1 instanceof RegistryAuthError);
          const bad = { username: USER, password: WRONG };
          const e2 = await assertRejects(
            () => pushImage(a, "webapp:1", ref, { configDir: cfg, credential: bad }),
            kind === "token"
              ? /authentication to 127\.0\.0\.1:\d+ failed: incorrect username or password/
              : /unauthorized: the registry refused the stored credentials/,
          );
          assert(e2 instanceof RegistryAuthError);
          const e3 = await assertRejects(
            () => login(reg.host, bad, { configDir: cfg }),
            /login to 127\.0\.0\.1:\d+ failed: unauthorized: incorrect username or password/,
          );
          for (const e of [e1, e2, e3]) {
            assert(!e.message.includes(WRONG) && !e.message.includes(btoa(`${USER}:${WRONG}`)));
          }
          const good = { username: USER, password: PASS };
          const pushed = await pushImage(a, "webapp:1", ref, { configDir: cfg, credential: good });
          const tokensAfterPush = reg.tokenRequests.length;
          const pulled = await pullImage(b, ref, { configDir: cfg, credential: good });
          assertEquals(pulled.id, w.id1);
          assertEquals(pulled.manifestDigest, pushed.digest);
          if (kind === "token") {
            // One token per operation and scope set, cached across its blobs.
            assertEquals(reg.tokenRequests.length - tokensAfterPush, 1, "pull asked for one token");
            assertEquals(reg.tokenRequests.at(-1), {
              scope: ["repository:private/webapp:pull"],
              account: USER,
            });
          }
          await assertRejects(() => pullImage(`${dir}/c`, ref, { configDir: cfg }), /unauthorized/);
        });
      } finally {
        await reg.stop();
      }
    },
    { skip: noRegistry || needsHtpasswd() || (kind === "token" && needsOpenssl()) },
  );
}

test(
  "hako login --password-stdin stores 0600 credentials that pull uses; logout removes them",
  async () => {
    const reg = await TestRegistry.start({ kind: "token", users: { [USER]: PASS } });
    try {
      await withDir(async (dir) => {
        const a = `${dir}/a`, b = `${dir}/b`, cfg = `${dir}/config`;
        const env = { HAKO_CONFIG: cfg, HOME: `${dir}/home` };
        const w = await makeWebapp(a);
        const hako = (args: string[], stdin?: string) =>
          run([...hakoArgv(), ...args], { check: false, env, stdin });
        const bad = await hako(["login", reg.host, "-u", USER, "--password-stdin"], WRONG + "\n");
        assertEquals(bad.code, 1, bad.stderr);
        assert(
          /login to 127\.0\.0\.1:\d+ failed: unauthorized: incorrect username or password/.test(
            bad.stderr,
          ),
          bad.stderr,
        );
        assert(!bad.stderr.includes(WRONG) && !bad.stdout.includes(WRONG));
        const ok = await hako(["login", reg.host, "-u", USER, "--password-stdin"], PASS + "\n");
        assertEquals([ok.code, ok.stdout], [
          0,
          `Credentials saved in ${cfg}/auth.json\nLogin Succeeded\n`,
        ]);
        const st = await fs.stat(`${cfg}/auth.json`);
        assertEquals(st.mode & 0o777, 0o600);
        const file = JSON.parse(await fs.readFile(`${cfg}/auth.json`, "utf8"));
        assertEquals(file.auths[reg.host].auth, btoa(`${USER}:${PASS}`));
        const push = await hako([
          "--root",
          a,
          "push",
          "-q",
          "webapp:2",
          `${reg.host}/team/webapp:2`,
        ]);
        assertEquals(push.code, 0, push.stderr);
        const pull = await hako(["--root", b, "pull", `${reg.host}/team/webapp:2`]);
        assertEquals(pull.code, 0, pull.stderr);
        assert(
          pull.stdout.endsWith(
            `Status: Downloaded newer image for ${reg.host}/team/webapp:2\n${reg.host}/team/webapp:2\n`,
          ),
          pull.stdout,
        );
        assert(/: Pull complete \(\d/.test(pull.stdout), pull.stdout);
        const ids = await hako(["--root", b, "images", "-q", "--no-trunc"]);
        assertEquals(ids.stdout.trim(), w.id2);
        const out = await hako(["logout", reg.host]);
        assertEquals(out.stdout, `Removing login credentials for ${reg.host}\n`);
        const again = await hako(["--root", `${dir}/c`, "pull", "-q", `${reg.host}/team/webapp:2`]);
        assertEquals(again.code, 1);
        assert(/unauthorized: authentication required/.test(again.stderr), again.stderr);
      });
    } finally {
      await reg.stop();
    }
  },
  { skip: noRegistry || needsOpenssl() },
);

test("credentials in ~/.docker/config.json auths are used", async () => {
  const reg = await TestRegistry.start({ kind: "htpasswd", users: { [USER]: PASS } });
  try {
    await withDir(async (dir) => {
      const a = `${dir}/a`, cfg = `${dir}/config`, home = `${dir}/home`;
      await makeWebapp(a);
      await fs.mkdir(`${home}/.docker`, { recursive: true });
      await fs.writeFile(
        `${home}/.docker/config.json`,
        JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: btoa(`${USER}:${PASS}`) } } }),
      );
      const r = await run([...hakoArgv(), "--root", a, "push", "webapp:1", `${reg.host}/x:1`], {
        check: false,
        env: { HAKO_CONFIG: cfg, HOME: home },
      });
      assertEquals(r.code, 0, r.stderr);
      assert(r.stdout.includes("1: digest: sha256:"), r.stdout);
    });
  } finally {
    await reg.stop();
  }
}, { skip: noRegistry || needsHtpasswd() });
