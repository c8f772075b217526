import { assert, test } from "../test/harness.ts";
import { clangVersion, generate } from "./trampoline_build.ts";

const version = clangVersion();
const checkedIn = await (async () => {
  const { readFileSync } = await import("node:fs");
  return readFileSync(new URL("./trampoline_bytes.ts", import.meta.url), "utf8");
})();
const builtWith = checkedIn.split("\n")[1]?.replace(/^\/\/ /, "");

function skipReason(): string | false {
  if (!version) return "clang is not installed, cannot rebuild ffi/trampoline.c";
  if (version !== builtWith) return `clang differs (${version}; bytes built with ${builtWith})`;
  return false;
}

test("checked-in trampoline bytes match ffi/trampoline.c", () => {
  const fresh = generate();
  assert(
    fresh === checkedIn,
    "ffi/trampoline_bytes.ts is stale: run `deno run -A ffi/trampoline_build.ts` and commit it",
  );
}, { skip: skipReason() });
