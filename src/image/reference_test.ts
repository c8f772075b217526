import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { UsageError } from "../errors.ts";
import { formatReference, parseReference, tagKey } from "./reference.ts";

const D = "sha256:" + "ab".repeat(32);

test("parseReference: valid references", () => {
  const table: [string, unknown][] = [
    ["mybox", { name: "mybox", tag: "latest" }],
    ["mybox:1.0", { name: "mybox", tag: "1.0" }],
    ["library/alpine:3.20", { name: "library/alpine", tag: "3.20" }],
    ["registry:5000/name:tag", { name: "registry:5000/name", tag: "tag" }],
    ["localhost/app", { name: "localhost/app", tag: "latest" }],
    ["ghcr.io/a/b-c_d.e:v_1-x", { name: "ghcr.io/a/b-c_d.e", tag: "v_1-x" }],
    [`name@${D}`, { name: "name", digest: D }],
    [`name:tag@${D}`, { name: "name", tag: "tag", digest: D }],
    ["Registry.Example.com:443/x", { name: "Registry.Example.com:443/x", tag: "latest" }],
    ["a__b", { name: "a__b", tag: "latest" }],
  ];
  for (const [ref, want] of table) assertEquals(parseReference(ref), want, ref);
});

test("parseReference: invalid references are UsageError with a reason", async () => {
  const table: [string, RegExp][] = [
    ["", /empty reference/],
    ["MyBox", /must be lowercase/],
    ["a:b:c", /repository name/],
    ["name:", /tag is up to 128/],
    ["name:-x", /tag is up to 128/],
    ["name@sha256:123", /digest must be/],
    [":tag", /missing repository name/],
    ["a//b", /repository name/],
    ["-a", /repository name/],
    ["a/../b", /repository name/],
    ["name:" + "x".repeat(129), /tag is up to 128/],
  ];
  for (const [ref, re] of table) {
    const e = await assertRejects(() => parseReference(ref), re);
    assertEquals(e instanceof UsageError, true, ref);
  }
});

test("tagKey and formatReference", async () => {
  assertEquals(tagKey("mybox"), "mybox:latest");
  assertEquals(tagKey("reg:5000/a:b"), "reg:5000/a:b");
  await assertRejects(() => tagKey(`a@${D}`), /cannot tag with a digest/);
  assertEquals(formatReference(parseReference(`a:b@${D}`)), `a:b@${D}`);
});
