import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { expandWord, expandWords, keyValues, splitWords } from "./words.ts";

const vars: Record<string, string> = { A: "1", EMPTY: "", SP: "x y" };
const look = (n: string) => vars[n];

test("words: variables and their modifiers", () => {
  assertEquals(expandWord("$A-${A}", look), "1-1");
  assertEquals(expandWord("${NOPE:-def}${EMPTY:-e}${EMPTY-f}", look), "defe");
  assertEquals(expandWord("${A:+alt}${NOPE:+alt}${EMPTY+set}", look), "altset");
  assertEquals(expandWord("'$A'\"$A\"\\$A", look), "$A1$A");
  assertEquals(expandWord("a$", look), "a$");
});

test("words: splitting keeps quoted spaces", () => {
  assertEquals(splitWords(`a "b c" 'd e' f\\ g`), ["a", '"b c"', "'d e'", "f\\ g"]);
  assertEquals(expandWords(`"$SP" $A`, look), ["x y", "1"]);
});

test("words: KEY=VALUE pairs and the legacy form", () => {
  assertEquals(keyValues(`A=1 B="two words" C=$A`, look), [["A", "1"], ["B", "two words"], [
    "C",
    "1",
  ]]);
  assertEquals(keyValues("NAME some value here", look), [["NAME", "some value here"]]);
});

test("words: errors", async () => {
  await assertRejects(() => expandWord('"open', look), /unterminated quote/);
  await assertRejects(() => expandWord("${NOPE:?must be set}", look), /NOPE: must be set/);
});
