import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { parseDockerfile } from "./dockerfile.ts";

test("dockerfile: continuations, comments, case, JSON form and flags", () => {
  const df = parseDockerfile(
    [
      "# syntax=docker/dockerfile:1",
      "ARG BASE=busybox",
      "from $BASE AS build",
      "",
      "# a comment",
      "RUN echo a \\",
      "  # a comment inside a continuation",
      "  && echo b",
      'COPY --from=build --chown=1:2 ["a b", "/dst/"]',
      'CMD ["sh", "-c", "echo hi"]',
      "cmd echo shell form",
    ].join("\n"),
    "app/Dockerfile",
  );
  const ins = df.instructions;
  assertEquals(ins.map((i) => i.cmd), ["ARG", "FROM", "RUN", "COPY", "CMD", "CMD"]);
  assertEquals(ins.map((i) => i.line), [2, 3, 6, 9, 10, 11]);
  assertEquals(ins[2].args, "echo a   && echo b");
  assertEquals(ins[3].flags, { from: "build", chown: "1:2" });
  assertEquals(ins[3].json, ["a b", "/dst/"]);
  assertEquals(ins[4].json, ["sh", "-c", "echo hi"]);
  assertEquals(ins[5].json, null);
});

test("dockerfile: the escape directive", () => {
  const df = parseDockerfile("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo x\n");
  assertEquals(df.escape, "`");
  assertEquals(df.instructions[1].args, "dir c:\\   && echo x");
});

test("dockerfile: syntax errors name the file and the line", async () => {
  const cases: [string, RegExp][] = [
    [
      "FROM busybox\nRUNN echo\n",
      /^Dockerfile:2: unknown instruction: RUNN \(did you mean RUN\?\)$/,
    ],
    ["FROM busybox\n\nCOPY onlyone\n", /^Dockerfile:3: COPY requires at least two arguments/],
    ["RUN echo\nFROM busybox\n", /^Dockerfile:1: RUN before the first FROM/],
    ["FROM a b\n", /^Dockerfile:1: FROM requires either one argument, or three/],
    [
      "FROM a\nSHELL /bin/bash -c\n",
      /^Dockerfile:2: SHELL requires the arguments to be in JSON form/,
    ],
    ["FROM a\nCOPY --frm=x a b\n", /^Dockerfile:2: COPY does not support the flag --frm$/],
    ["FROM a\nRUN <<EOF\necho\nEOF\n", /^Dockerfile:2: RUN with a heredoc/],
    ["FROM a\nENV ONLYKEY\n", /^Dockerfile:2: ENV must have two arguments/],
    ["# nothing\n", /no FROM instruction/],
  ];
  for (const [text, re] of cases) {
    await assertRejects(() => parseDockerfile(text), re);
  }
  const e = await assertRejects(() => parseDockerfile("FROM a\nWORKDIR\n", "ctx/Dockerfile.dev"));
  assert(e.message.startsWith("ctx/Dockerfile.dev:2: "), e.message);
});
