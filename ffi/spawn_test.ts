import { assert, assertEquals, assertRejects, needsRoot, runtime, test } from "../test/harness.ts";
import {
  AT_FDCWD,
  CLONE,
  close,
  CLOSE_RANGE_CLOEXEC,
  cstr,
  E,
  exitCode,
  O,
  pipe2,
  Plan,
  read,
  readAsync,
  spawn,
  start,
  SYS,
  SysError,
  termSignal,
  wait4,
  write,
} from "./mod.ts";

const root = needsRoot();

/** Adds execve(argv[0], argv, envp) to a plan. */
function exec(p: Plan, argv: string[], env: string[] = []): void {
  p.syscall(SYS.execve, [p.str(argv[0]), p.strings(argv), p.strings(env)], `execute ${argv[0]}`);
}

async function readAll(fd: number): Promise<string> {
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  for (let n; (n = await readAsync(fd, buf)) > 0;) chunks.push(...buf.subarray(0, n));
  return new TextDecoder().decode(new Uint8Array(chunks));
}

test("spawn: execve of sh, exit status 7 through wait4", async () => {
  const p = new Plan();
  exec(p, ["/bin/sh", "-c", "exit 7"]);
  const { pid, forkedPid } = await spawn(p, { cloneFlags: 0 });
  assert(pid > 0 && forkedPid === undefined);
  const { pid: reaped, status } = await wait4(pid);
  assertEquals(reaped, pid);
  assertEquals(exitCode(status), 7);
  assertEquals(termSignal(status), null);
});

test("spawn: copying clone (shareMemory: false) runs plans too", async () => {
  const p = new Plan();
  exec(p, ["/bin/sh", "-c", "exit 5"]);
  const { pid } = await spawn(p, { cloneFlags: 0, shareMemory: false });
  assertEquals(exitCode((await wait4(pid)).status), 5);
});

test("spawn: a failing step is a SysError naming the step", async () => {
  const p = new Plan();
  p.syscall(SYS.chdir, [p.str("/nonexistent")], "change directory to /nonexistent");
  exec(p, ["/bin/true"]);
  const err = await assertRejects(() => spawn(p, { cloneFlags: 0 }), /ENOENT/) as SysError;
  assert(err instanceof SysError, "not a SysError");
  assertEquals(err.code, "ENOENT");
  assertEquals(err.what, "change directory to /nonexistent");
  assertEquals(err.message, "change directory to /nonexistent: ENOENT (No such file or directory)");
});

test("plan: slots carry an fd from openat to later steps; ignore skips an errno", async () => {
  const [r, w] = pipe2();
  const p = new Plan();
  const fd = p.slot();
  p.syscall(SYS.mkdirat, [AT_FDCWD, p.str("/"), 0o755], "mkdir / (exists)", { ignore: E.EEXIST });
  p.syscall(SYS.kill, [0x7fffffff, 0], "kill a missing pid", { ignore: "all" });
  p.syscall(SYS.openat, [AT_FDCWD, p.str("/etc/hostname"), O.RDONLY], "open /etc/hostname", {
    store: fd,
  });
  p.syscall(SYS.dup3, [0, 0, 0], "stdin from the file", { fromSlot: { 0: fd } });
  p.syscall(SYS.dup3, [w, 1, 0], "redirect stdout");
  exec(p, ["/bin/cat"]);
  const { pid } = await spawn(p, { cloneFlags: 0 });
  close(w);
  const out = await readAll(r);
  close(r);
  assertEquals(exitCode((await wait4(pid)).status), 0);
  const expected = new TextDecoder().decode(
    await import("node:fs").then((f) => f.readFileSync("/etc/hostname")),
  );
  assertEquals(out, expected);
});

test("spawn: new UTS namespace, sethostname, /bin/hostname", async () => {
  const [r, w] = pipe2();
  const p = new Plan();
  const name = new TextEncoder().encode("hako-test");
  p.syscall(SYS.sethostname, [p.bytes(name), name.length], "set hostname hako-test");
  p.syscall(SYS.dup3, [w, 1, 0], "redirect stdout");
  exec(p, ["/bin/hostname"]);
  const { pid } = await spawn(p, { cloneFlags: CLONE.NEWUTS });
  close(w);
  const out = await readAll(r);
  close(r);
  assertEquals(exitCode((await wait4(pid)).status), 0);
  assertEquals(out.trim(), "hako-test");
}, { skip: root });

test("spawn: FORK with CLONE_PARENT into a new PID namespace gives forkedPid", async () => {
  const [r, w] = pipe2();
  const p = new Plan();
  p.syscall(SYS.unshare, [CLONE.NEWPID], "unshare the pid namespace");
  p.fork(CLONE.PARENT, "fork into the pid namespace");
  p.syscall(SYS.dup3, [w, 1, 0], "redirect stdout");
  exec(p, ["/bin/sh", "-c", "echo $$; exit 3"]);
  const { pid, forkedPid } = await spawn(p, { cloneFlags: 0 });
  close(w);
  assert(forkedPid !== undefined && forkedPid !== pid, `forkedPid ${forkedPid}`);
  const out = await readAll(r);
  close(r);
  assertEquals(out.trim(), "1", "pid inside the new namespace");
  const st = await wait4(forkedPid!);
  assertEquals(st.pid, forkedPid);
  assertEquals(exitCode(st.status), 3);
}, { skip: root });

/** Runs argv with `steps` added first and returns its stdout. */
async function output(argv: string[], steps: (p: Plan) => void): Promise<string> {
  const [r, w] = pipe2();
  const p = new Plan();
  p.syscall(SYS.dup3, [w, 1, 0], "redirect stdout");
  steps(p);
  exec(p, argv);
  const { pid } = await spawn(p, { cloneFlags: 0 });
  close(w);
  const out = await readAll(r);
  close(r);
  assertEquals(exitCode((await wait4(pid)).status), 0);
  return out;
}

test("spawn: signal dispositions are default and only fds 0-2 survive execve", async () => {
  // cat installs no handlers itself, so its status shows what execve inherited.
  const status = await output(["/bin/cat", "/proc/self/status"], () => {});
  const sig = status.split("\n").filter((l) => /^Sig(Blk|Ign|Cgt):/.test(l));
  assertEquals(sig, [
    "SigBlk:\t0000000000000000",
    "SigIgn:\t0000000000000000",
    "SigCgt:\t0000000000000000",
  ]);
  // An fd without CLOEXEC, as Deno leaks them.
  const leak = Number(sysRaw(SYS.openat, AT_FDCWD, cstrAddr("/dev/null"), O.RDONLY));
  try {
    const fds = await output(["/bin/ls", "/proc/self/fd"], (p) => {
      p.syscall(SYS.close_range, [3, 0xffffffff, CLOSE_RANGE_CLOEXEC], "mark fds 3+ close-on-exec");
    });
    // ls opens one directory fd (3) itself to list /proc/self/fd.
    assertEquals(fds.trim().split("\n").sort(), ["0", "1", "2", "3"]);
  } finally {
    close(leak);
  }
});

const keep: Uint8Array[] = [];
function cstrAddr(s: string): bigint {
  const b = cstr(s);
  keep.push(b);
  return addrOf(b);
}
import { addr as addrOf } from "./mod.ts";

test("wait4 and readAsync do not block the event loop", async () => {
  const p = new Plan();
  exec(p, ["/bin/sleep", "0.3"]);
  const { pid } = await spawn(p, { cloneFlags: 0 });
  let fired = 0;
  const t0 = performance.now();
  const timer = setTimeout(() => fired = performance.now() - t0, 50);
  const { status } = await wait4(pid);
  clearTimeout(timer);
  const waited = performance.now() - t0;
  assertEquals(exitCode(status), 0);
  assert(fired > 0 && fired < 200, `timer fired at ${fired} ms while waiting (${waited} ms)`);

  const [r, w] = pipe2();
  const buf = new Uint8Array(8);
  let readDone = false;
  const pending = readAsync(r, buf).then((n) => (readDone = true, n));
  await new Promise((ok) => setTimeout(ok, 30));
  assert(!readDone, "read returned before anything was written");
  write(w, "ok");
  assertEquals(await pending, 2);
  close(r);
  close(w);
});

test("start: act between clone and execve, then release the child", async () => {
  const [syncR, syncW] = pipe2();
  const [r, w] = pipe2();
  const p = new Plan();
  p.syscall(SYS.read, [syncR, p.bytes(new Uint8Array(1)), 1], "wait for the parent");
  p.syscall(SYS.dup3, [w, 1, 0], "redirect stdout");
  exec(p, ["/bin/echo", "released"]);
  const started = start(p, { cloneFlags: 0 });
  close(syncR);
  close(w);
  await new Promise((ok) => setTimeout(ok, 20));
  assertEquals((await wait4(started.pid, 1 /* WNOHANG */)).pid, 0, "child ran ahead");
  write(syncW, "x");
  close(syncW);
  await started.report();
  assertEquals(await readAll(r), "released\n");
  close(r);
  assertEquals(exitCode((await wait4(started.pid)).status), 0);
});

test("sys: raw results are -errno, never libc's errno", () => {
  const buf = new Uint8Array(1);
  assertEquals(Number((SYS.read, readFromBadFd(buf))), -E.EBADF);
  assertEquals(read.name, "read");
});

function readFromBadFd(buf: Uint8Array): bigint {
  return sysRaw(SYS.read, 9999, addrOf(buf), 1);
}
import { sys as sysRaw } from "./mod.ts";

test(`bench: 200 spawns of /bin/true on ${runtime}`, async () => {
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const p = new Plan();
    exec(p, ["/bin/true"]);
    const { pid } = await spawn(p, { cloneFlags: 0 });
    const { status } = await wait4(pid);
    times.push(performance.now() - t);
    assertEquals(exitCode(status), 0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${runtime}: spawn+wait of /bin/true: median ${times[100].toFixed(3)} ms, ` +
      `p90 ${times[180].toFixed(3)} ms, min ${times[0].toFixed(3)} ms`,
  );
});
