import { assertEquals, assertRejects, runtime, test } from "./harness.ts";

test("harness: assertions compare values and catch errors", async () => {
  assertEquals([1, "a"], [1, "a"]);
  await assertRejects(() => assertEquals(1, 2), /expected 2, got 1/);
  assertEquals(["deno", "bun"].includes(runtime), true);
});
