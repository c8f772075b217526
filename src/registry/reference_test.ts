import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import {
  apiHost,
  familiarString,
  isLoopback,
  localTagKey,
  parseRemote,
  registryFromServer,
} from "./reference.ts";

test("Docker Hub short names expand like Docker's; others keep their registry", () => {
  const cases: [string, string, string, string | undefined, string][] = [
    ["alpine", "docker.io", "library/alpine", "latest", "alpine:latest"],
    ["alpine:3.20", "docker.io", "library/alpine", "3.20", "alpine:3.20"],
    ["docker.io/library/alpine:3.20", "docker.io", "library/alpine", "3.20", "alpine:3.20"],
    ["index.docker.io/library/alpine", "docker.io", "library/alpine", "latest", "alpine:latest"],
    ["user/app:v1", "docker.io", "user/app", "v1", "user/app:v1"],
    ["docker.io/user/app", "docker.io", "user/app", "latest", "user/app:latest"],
    ["127.0.0.1:5000/webapp:2", "127.0.0.1:5000", "webapp", "2", "127.0.0.1:5000/webapp:2"],
    ["localhost/team/app", "localhost", "team/app", "latest", "localhost/team/app:latest"],
    ["ghcr.io/o/r/img:x", "ghcr.io", "o/r/img", "x", "ghcr.io/o/r/img:x"],
  ];
  for (const [ref, registry, repository, tag, local] of cases) {
    const r = parseRemote(ref);
    assertEquals([r.registry, r.repository, r.tag], [registry, repository, tag], ref);
    assertEquals(localTagKey(r), local, ref);
  }
  const d = "sha256:" + "a".repeat(64);
  const r = parseRemote(`alpine@${d}`);
  assertEquals([r.tag, r.digest, localTagKey(r), familiarString(r)], [
    undefined,
    d,
    null,
    `alpine@${d}`,
  ]);
  assertEquals(apiHost("docker.io"), "registry-1.docker.io");
  assertEquals(apiHost("127.0.0.1:5000"), "127.0.0.1:5000");
});

test("invalid references are UsageErrors; login server names normalise", async () => {
  await assertRejects(() => parseRemote("UPPER/case"), /must be lowercase/);
  await assertRejects(() => parseRemote("a@sha256:xyz"), /digest must be sha256/);
  assertEquals(registryFromServer(undefined), "docker.io");
  assertEquals(registryFromServer("https://index.docker.io/v1/"), "docker.io");
  assertEquals(registryFromServer("http://127.0.0.1:5000"), "127.0.0.1:5000");
  assertEquals(registryFromServer("Registry.Example.com/"), "registry.example.com");
  assertEquals(
    [isLoopback("127.0.0.1:5000"), isLoopback("localhost"), isLoopback("[::1]:5000")],
    [true, true, true],
  );
  assertEquals([isLoopback("10.0.0.1:5000"), isLoopback("localhost.example.com")], [false, false]);
});
