/**
 * Issue 5, without a terminal: `exec` joins every namespace, the cgroup, the identity and
 * the environment of a running container; `-i` streams stdin; `-d` leaves the command
 * running; `attach` of a non-tty container; `top` lists host and container pids.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { needsBusybox } from "../fixtures.ts";
import { hostTraces, Store } from "../hako.ts";
import * as fs from "../../ffi/fs.ts";

const skip = needsRoot() || await needsBusybox();
const NS = ["mnt", "uts", "ipc", "net", "pid", "cgroup"];

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>) {
  // Generous: a slow machine must not fail the test, a hang must not pass it.
  for (let i = 0; i < 600; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("exec: the container's namespaces, cgroup, identity, cwd and env; exit codes", async () => {
  const s = await Store.create("bb:1");
  try {
    const id = (await s.ok(
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      "web",
      "-h",
      "box",
      "-e",
      "A=1",
      "-w",
      "/srv",
      "-u",
      "app",
      "bb:1",
      "sleep",
      "1000",
    )).trim();
    const [info] = JSON.parse(await s.ok("inspect", "web"));
    const init = info.State.Pid as number;

    assertEquals((await s.hako(["exec", "web", "sh", "-c", "exit 5"])).code, 5);
    assertEquals(await s.ok("exec", "web", "hostname"), "box\n");
    assertEquals(await s.ok("exec", "web", "pwd"), "/srv\n");
    assertEquals(await s.ok("exec", "web", "sh", "-c", "echo $A $HOME"), "1 /home/app\n");
    assertEquals(
      await s.ok("exec", "web", "id"),
      "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)\n",
    );

    // Every namespace is the init's, seen from inside and from the host.
    const inside = await s.ok(
      "exec",
      "web",
      "sh",
      "-c",
      NS.map((n) => `readlink /proc/self/ns/${n}`).join("; "),
    );
    const outside = await Promise.all(NS.map((n) => fs.readLink(`/proc/${init}/ns/${n}`)));
    assertEquals(inside.trim().split("\n"), outside);
    // The PID namespace for real: the container's init is pid 1, the exec'd shell is not.
    const ps = await s.ok("exec", "web", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '");
    const [pid, cmd] = ps.trim().split("\n");
    assert(Number(pid) > 1, ps);
    assertEquals(cmd.trim(), "sleep 1000");
    // Its root and mounts: the container's overlay, not the host's /.
    const mounts = await s.ok("exec", "web", "cat", "/proc/mounts");
    assert(/^overlay \/ overlay /m.test(mounts), mounts);
    assert(mounts.includes(" /etc/hostname "), mounts);
    assertEquals(
      (await s.hako(["exec", "web", "ls", "/work"])).code,
      1,
      "host paths are not there",
    );
    // Cgroup, capabilities and no_new_privs of the container's process (both read from
    // inside: /proc/<pid>/cgroup is relative to the reader's cgroup namespace).
    const mine = "cat /proc/self/cgroup; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status";
    const [self, theirs] = (await s.ok(
      "exec",
      "web",
      "sh",
      "-c",
      `${mine}; echo --; ${mine.replaceAll("self", "1")}`,
    )).split("--\n");
    assertEquals(self, theirs);
    // The container's cgroup is the root of its cgroup namespace; a process outside it
    // would see a path such as "/../..".
    assert(/^\d+:pids:\/$/m.test(self), self);

    // -u, -w, -e override; names resolve in the container's own /etc/passwd.
    assertEquals(
      await s.ok(
        "exec",
        "-u",
        "0",
        "-w",
        "/tmp",
        "-e",
        "K=V",
        "-e",
        "A=2",
        "web",
        "sh",
        "-c",
        "id -u; pwd; echo $K $A $HOME",
      ),
      "0\n/tmp\nV 2 /root\n",
    );
    assertEquals(
      await s.ok("exec", "-u", "nobody:staff", "web", "id"),
      "uid=65534(nobody) gid=50(staff) groups=50(staff)\n",
    );
    const badUser = await s.hako(["exec", "-u", "nosuch", "web", "true"]);
    assert(
      badUser.code === 125 && /unable to find user nosuch/.test(badUser.stderr),
      badUser.stderr,
    );

    const missing = await s.hako(["exec", "web", "nosuch"]);
    assertEquals(missing.code, 127);
    assert(/executable file not found in \$PATH/.test(missing.stderr), missing.stderr);
    const noDir = await s.hako(["exec", "-w", "/nope", "web", "true"]);
    assert(noDir.code === 126 && /chdir to \/nope/.test(noDir.stderr), noDir.stderr);

    // -d returns at once; the command keeps running in the container.
    assertEquals(await s.ok("exec", "-d", "web", "sh", "-c", "sleep 0.2; echo made > /tmp/d"), "");
    await until(
      "exec -d output",
      async () => (await s.hako(["exec", "web", "cat", "/tmp/d"])).stdout === "made\n",
    );

    // top: host and container pids side by side.
    const exec = s.hako(["exec", "web", "sleep", "30"]);
    const top = await until("the exec'd sleep in top", async () => {
      const t = await s.ok("top", "web");
      return t.includes("sleep 30") && t;
    });
    const rows = top.trim().split("\n");
    assertEquals(rows[0].split(/\s+/), [
      "UID",
      "PID",
      "PPID",
      "CPID",
      "C",
      "STIME",
      "TTY",
      "TIME",
      "CMD",
    ]);
    const initRow = rows.find((r) => r.endsWith("sleep 1000"))!.split(/\s+/);
    // Like `docker top` (ps -ef on the host), user names are the host's.
    const hostName = (await fs.readText("/etc/passwd")).split("\n").map((l) => l.split(":"))
      .find((f) => f[2] === "1000")?.[0] ?? "1000";
    assertEquals([initRow[0], initRow[1], initRow[3]], [hostName, String(init), "1"]);
    const execRow = rows.find((r) => r.endsWith("sleep 30"))!.split(/\s+/);
    assert(Number(execRow[3]) > 1 && Number(execRow[1]) !== Number(execRow[3]), top);
    await s.ok("exec", "web", "kill", execRow[3]);
    assertEquals((await exec).code, 143, "the exec'd process was killed by SIGTERM");

    await s.ok("stop", "-t", "1", "web");
    const stopped = await s.hako(["exec", "web", "true"]);
    assertEquals(stopped.code, 125);
    assertEquals(stopped.stderr, "hako: container web is not running\n");
    await s.ok("rm", "web");
    assertEquals(await hostTraces(id), []);
  } finally {
    await s.cleanup();
  }
}, { skip });

test("exec: -i streams stdin and closes it at EOF; without -i stdin is empty", async () => {
  const s = await Store.create("bb:1");
  try {
    await s.ok("run", "-d", "--network", "none", "--name", "web", "bb:1", "sleep", "1000");
    const r = await s.hako(["exec", "-i", "web", "sh", "-c", "cat; echo done"], {
      stdin: "line one\nline two\n",
    });
    assertEquals([r.code, r.stdout], [0, "line one\nline two\ndone\n"]);
    const n = await s.hako(["exec", "web", "sh", "-c", "cat; echo done"], { stdin: "ignored\n" });
    assertEquals([n.code, n.stdout], [0, "done\n"]);
    const fg = await s.hako(["run", "--rm", "-i", "--network", "none", "bb:1", "wc", "-l"], {
      stdin: "a\nb\nc\n",
    });
    assertEquals(fg.stdout.trim(), "3");
    // A container on the host's network: exec joins what it has and skips what it shares.
    await s.ok("run", "-d", "--network", "host", "--name", "hostnet", "bb:1", "sleep", "1000");
    assertEquals(
      (await s.ok("exec", "hostnet", "readlink", "/proc/self/ns/net")).trim(),
      await fs.readLink("/proc/self/ns/net"),
    );
    // --privileged: every capability hako holds itself.
    const held = /^CapBnd:\s*(\S+)$/m.exec(await fs.readText("/proc/self/status"))![1];
    assertEquals(
      await s.ok("exec", "--privileged", "hostnet", "grep", "CapEff", "/proc/self/status"),
      `CapEff:\t${held}\n`,
    );
  } finally {
    await s.cleanup();
  }
}, { skip });

test(
  "attach: a non-tty container started with -d -i takes stdin and gives output and exit code",
  async () => {
    const s = await Store.create("bb:1");
    try {
      await s.ok(
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--name",
        "cat",
        "bb:1",
        "sh",
        "-c",
        "cat; echo bye >&2; exit 6",
      );
      const r = await s.hako(["attach", "cat"], { stdin: "hello\nworld\n" });
      assertEquals([r.code, r.stdout, r.stderr], [6, "hello\nworld\n", "bye\n"]);
      assertEquals((await s.hako(["logs", "cat"])).stdout, "hello\nworld\n");
      const gone = await s.hako(["attach", "cat"]);
      assert(
        gone.code === 125 && /cannot attach to a stopped container/.test(gone.stderr),
        gone.stderr,
      );
      const state = `${s.root}/run/containers`;
      assertEquals(await fs.readDir(state), [], "the monitor removed the attach socket");
    } finally {
      await s.cleanup();
    }
  },
  { skip },
);
