import { assert, assertEquals, test } from "../../test/harness.ts";
import { globToRegExp, IgnoreRules } from "./ignore.ts";

test("ignore: .dockerignore patterns, exceptions and directories", () => {
  const r = new IgnoreRules(
    "# comment\nnode_modules\n*.log\n!keep.log\n**/tmp\n/build/\ndocs/*.md\n!docs/README.md\n",
  );
  const ignored = [
    "node_modules",
    "node_modules/x/y.js",
    "a.log",
    "tmp",
    "src/tmp/file",
    "build/out",
    "docs/a.md",
  ];
  const kept = [
    "keep.log",
    "src/a.log",
    "src/app.js",
    "docs/README.md",
    "docs/sub/a.md",
    "Dockerfile",
  ];
  for (const p of ignored) assert(r.ignored(p), `${p} should be ignored`);
  for (const p of kept) assert(!r.ignored(p), `${p} should be kept`);
  assert(r.mayIncludeBelow("docs"));
});

test("ignore: glob syntax", () => {
  assertEquals(globToRegExp("*.txt").test("a.txt"), true);
  assertEquals(globToRegExp("*.txt").test("d/a.txt"), false);
  assertEquals(globToRegExp("f?le[0-9]").test("file7"), true);
  assertEquals(globToRegExp("**/x").test("x"), true);
  assertEquals(globToRegExp("a/**/b").test("a/1/2/b"), true);
});
