import { assert, assertEquals, test } from "../../test/harness.ts";
import { buildExecPlan, execCandidates } from "./exec_plan.ts";
import type { Process } from "./spec.ts";

const proc: Process = {
  args: ["id"],
  env: ["PATH=/bin"],
  cwd: "/tmp",
  user: { uid: 1000, gid: 1000, additionalGids: [1000] },
  capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
  noNewPrivileges: true,
};

function steps(p: { length: number; describe(i: number): string }): string[] {
  return Array.from({ length: p.length }, (_, i) => p.describe(i));
}

test("exec plan: cgroup, namespaces user first and PID last, one fork, then the process", () => {
  const p = buildExecPlan({
    process: proc,
    namespaces: [
      { type: "pid", fd: 10 },
      { type: "mount", fd: 11 },
      { type: "network", fd: 12 },
      { type: "user", fd: 13 },
      { type: "uts", fd: 14 },
    ],
    cgroupProcsFds: [20, 21],
    execPaths: ["/usr/bin/id", "/bin/id"],
    stdio: [30, -1, -1],
  });
  const s = steps(p);
  assertEquals(s.slice(0, 10), [
    "join the container's cgroup",
    "join the container's cgroup",
    "join the container's user namespace",
    "join the container's uts namespace",
    "join the container's network namespace",
    "join the container's mount namespace",
    "join the container's pid namespace",
    "fork into the PID namespace",
    "create a session",
    "set up fd 0",
  ]);
  assert(s.includes("set no_new_privs"), "no_new_privs");
  assert(s.includes("drop CAP_SYS_ADMIN"), "bounding set");
  assert(s.indexOf("chdir to /tmp") < s.indexOf("set uid 1000"), "chdir before setuid");
  assertEquals(s.slice(-2), ["exec /usr/bin/id", "exec /bin/id"]);
  assert(!s.includes("set capabilities"), "a non-root user keeps no capabilities");
});

test("exec plan: without a PID namespace there is no extra fork; a tty replaces stdio", () => {
  const p = buildExecPlan({
    process: { ...proc, user: { uid: 0, gid: 0 } },
    namespaces: [{ type: "mount", fd: 11 }],
    cgroupProcsFds: [],
    execPaths: ["/bin/id"],
    stdio: [30, -1, -1],
    console: { socket: 40, reserved: 41, winsize: { rows: 30, cols: 100 } },
  });
  const s = steps(p);
  assert(!s.includes("fork into the PID namespace"), s.join(", "));
  assert(!s.includes("set up fd 0"), "no stdio with a tty");
  const tty = s.indexOf("open /dev/ptmx in the container");
  assert(tty > s.indexOf("join the container's mount namespace"), "pty from the container");
  assertEquals(s.slice(tty, tty + 10), [
    "open /dev/ptmx in the container",
    "move the pty master",
    "unlock the pty",
    "open the pty follower",
    "set the size",
    "send the pty master to hako",
    "make the pty the controlling terminal",
    "the pty as fd 0",
    "the pty as fd 1",
    "the pty as fd 2",
  ]);
  assert(!s.includes("bind the pty on /dev/console"), "exec leaves /dev/console alone");
  assert(s.includes("set capabilities"), "root gets the container's capabilities");
});

test("exec plan: argv[0] candidates follow PATH like execvp", () => {
  assertEquals(execCandidates("ls", "/usr/bin:/bin/:/usr/bin"), ["/usr/bin/ls", "/bin/ls"]);
  assertEquals(execCandidates("./run.sh", "/bin"), ["./run.sh"]);
  assertEquals(execCandidates("/bin/sh", "/x"), ["/bin/sh"]);
  assertEquals(execCandidates("sh", undefined).length, 6);
  assertEquals(execCandidates("sh", "::/bin"), ["./sh", "/bin/sh"]);
});
