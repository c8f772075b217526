import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { Deframer, frame, resizeFrame, STREAM } from "./attach.ts";
import { DetachMatcher, parseDetachKeys } from "./terminal.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const list = (b: Uint8Array) => [...b];

test("terminal: Docker's detach key specs", () => {
  assertEquals(list(parseDetachKeys("ctrl-p,ctrl-q")), [16, 17]);
  assertEquals(list(parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")), [
    0,
    27,
    28,
    29,
    30,
    31,
  ]);
  assertEquals(list(parseDetachKeys("a,ctrl-B,z")), [97, 2, 122]);
});

test("terminal: bad detach keys are a usage error", async () => {
  await assertRejects(() => parseDetachKeys("ctrl-1"), /invalid detach key: ctrl-1/);
  await assertRejects(() => parseDetachKeys("ab"), /unknown key ab/);
  await assertRejects(() => parseDetachKeys("ctrl-p,"), /unknown key \(empty\)/);
});

test("terminal: the detach sequence is held back, completed or passed on", () => {
  const m = new DetachMatcher(bytes(16, 17));
  assertEquals(m.feed(bytes(104, 105)), { forward: bytes(104, 105), detach: false });
  // Split across two reads: the first key waits, the second completes the sequence.
  assertEquals(m.feed(bytes(120, 16)), { forward: bytes(120), detach: false });
  assertEquals(m.feed(bytes(17, 121)), { forward: bytes(), detach: true });
  // A broken sequence is forwarded whole, in order.
  assertEquals(m.feed(bytes(16, 97)), { forward: bytes(16, 97), detach: false });
  // Ctrl-P Ctrl-P Ctrl-Q: the first Ctrl-P is passed on, the rest detaches.
  assertEquals(m.feed(bytes(16, 16, 17)), { forward: bytes(16), detach: true });
  // No keys: everything passes.
  const none = new DetachMatcher(bytes());
  assertEquals(none.feed(bytes(16, 17)), { forward: bytes(16, 17), detach: false });
});

test("attach: frames carry Docker's stdcopy header and survive any split", () => {
  const a = frame(STREAM.STDOUT, new TextEncoder().encode("hello"));
  assertEquals(list(a.subarray(0, 8)), [1, 0, 0, 0, 0, 0, 0, 5]);
  const r = resizeFrame({ rows: 40, cols: 132 });
  assertEquals(list(r), [3, 0, 0, 0, 0, 0, 0, 4, 0, 40, 0, 132]);
  const stream = new Uint8Array([...a, ...frame(STREAM.STDERR, bytes()), ...r]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new Deframer();
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assertEquals(got.map((f) => [f.type, list(f.data)]), [
      [1, [104, 101, 108, 108, 111]],
      [2, []],
      [3, [0, 40, 0, 132]],
    ], `cut at ${cut}`);
  }
  assert(new Deframer().push(bytes(1, 0, 0)).length === 0);
});
