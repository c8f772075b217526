import { assert, assertEquals, runtime, test } from "../../test/harness.ts";
import { run } from "../../test/fixtures.ts";
import * as fs from "../../ffi/fs.ts";
import { addr, AT_FDCWD, close, O, openat, SYS, sys } from "../../ffi/mod.ts";
import { getTermios, getWinsize, makeRaw, RawTerminal, setWinsize, TIOC } from "./tty.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A host pty pair: [master, follower, follower path]. */
function openPty(): [number, number, string] {
  const m = openat(AT_FDCWD, "/dev/ptmx", O.RDWR | O.NOCTTY | O.CLOEXEC);
  sys(SYS.ioctl, m, TIOC.TIOCSPTLCK, addr(new Int32Array(1)));
  const n = new Uint32Array(1);
  sys(SYS.ioctl, m, TIOC.TIOCGPTN, addr(n));
  const path = `/dev/pts/${n[0]}`;
  return [m, openat(AT_FDCWD, path, O.RDWR | O.NOCTTY | O.CLOEXEC), path];
}

const same = (a: Uint8Array | null, b: Uint8Array | null) =>
  !!a && !!b && a.every((x, i) => x === b[i]);

test("tty: raw mode as cfmakeraw(3) sets it", () => {
  // A cooked terminal (stty sane on Linux): iflag ICRNL|IXON|IUTF8, oflag OPOST|ONLCR,
  // cflag CS8|CREAD|B38400, lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE.
  const t = new Uint8Array(36);
  const v = new DataView(t.buffer);
  v.setUint32(0, 0o42400, true);
  v.setUint32(4, 0o5, true);
  v.setUint32(8, 0o277, true);
  v.setUint32(12, 0o105073, true);
  t[17 + 6] = 1;
  const r = new DataView(makeRaw(t).buffer);
  assertEquals(r.getUint32(0, true), 0o40000, "only IUTF8 left of iflag");
  assertEquals(r.getUint32(4, true), 0o4, "OPOST off");
  assertEquals(r.getUint32(8, true), 0o277, "CS8 kept");
  assertEquals(r.getUint32(12, true), 0o5060, "no ISIG, ICANON, ECHO, IEXTEN");
  assertEquals(v.getUint32(12, true), 0o105073, "the input is not changed");
  assertEquals(getTermios(-1), null, "not a terminal");
});

test("tty: raw mode on a pty and back; the window size goes through", async () => {
  const [m, f] = openPty();
  try {
    const before = getTermios(f)!;
    const raw = RawTerminal.enter(f)!;
    assert(raw, "a pty is a terminal");
    assert(same(getTermios(f), makeRaw(before)), "raw while entered");
    await raw.restore();
    await raw.restore(); // idempotent
    assert(same(getTermios(f), before), "restored");
    setWinsize(m, { rows: 33, cols: 111 });
    assertEquals(getWinsize(f), { rows: 33, cols: 111 });
    assertEquals(RawTerminal.enter(m === f ? -1 : 1 << 20), null, "a bad fd is no terminal");
  } finally {
    close(f);
    close(m);
  }
});

test("tty: the guard restores the terminal when hako is killed with SIGKILL", async () => {
  const [m, f, path] = openPty();
  const dir = await fs.makeTempDir({ prefix: "hako-tty-" });
  try {
    const before = getTermios(f)!;
    await fs.writeFile(
      `${dir}/die.ts`,
      `import { RawTerminal } from "${ROOT}src/runtime/tty.ts";
import { AT_FDCWD, getpid, kill, O, openat } from "${ROOT}ffi/mod.ts";
const fd = openat(AT_FDCWD, ${JSON.stringify(path)}, O.RDWR | O.NOCTTY);
RawTerminal.enter(fd);
kill(getpid(), 9);
`,
    );
    const argv = runtime === "bun"
      ? [`${ROOT}node_modules/.bin/bun`, `${dir}/die.ts`]
      : [`${ROOT}node_modules/.bin/deno`, "run", "-A", "--no-check", `${dir}/die.ts`];
    const r = await run(argv, { check: false });
    assertEquals(r.code, 137, `killed by SIGKILL: ${r.stderr}`);
    // The guard wakes when the last copy of its pipe closes, i.e. right away; allow a
    // loaded machine plenty of time before calling it a failure.
    for (let i = 0; i < 400 && !same(getTermios(f), before); i++) {
      await new Promise((res) => setTimeout(res, 25));
    }
    assert(same(getTermios(f), before), "the terminal modes were put back");
  } finally {
    close(f);
    close(m);
    await fs.remove(dir, { recursive: true });
  }
});
