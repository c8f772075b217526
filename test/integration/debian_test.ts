/**
 * Issue 5 in a Debian container, as on a normal Linux box: useradd, su (also interactive),
 * background jobs with & and nohup, and job control (Ctrl-Z, bg, fg, Ctrl-C) in an
 * interactive bash at a real terminal (tmux).
 *
 * The root filesystem comes from `debootstrap --variant=minbase bookworm`, cached in
 * /var/cache/hako-test/ because it takes minutes; without the mirror the test is skipped.
 */

import { assert, assertEquals, needsRoot, test } from "../harness.ts";
import { run } from "../fixtures.ts";
import { hakoArgv, Store } from "../hako.ts";
import { needsTmux, Tmux } from "../tmux.ts";
import * as fs from "../../ffi/fs.ts";

const CACHE = "/var/cache/hako-test";
const ROOTFS = `${CACHE}/debian-bookworm-minbase`;
const MIRROR = "http://deb.debian.org/debian";

/** Makes (once) the cached Debian root; returns why it cannot, or false. */
async function debianRoot(): Promise<string | false> {
  if (await fs.exists(`${ROOTFS}/usr/sbin/useradd`)) return false;
  const has = await run(["sh", "-c", "command -v debootstrap"], { check: false });
  if (has.code !== 0) return "needs debootstrap (apt-get install debootstrap)";
  await fs.mkdir(CACHE);
  const tmp = await fs.makeTempDir({ dir: CACHE, prefix: ".debootstrap-" });
  try {
    const r = await run(["debootstrap", "--variant=minbase", "bookworm", `${tmp}/root`, MIRROR], {
      check: false,
    });
    if (r.code !== 0) {
      const why = r.stderr.trim().split("\n").pop() || r.stdout.trim().split("\n").pop();
      return `debootstrap could not build Debian from ${MIRROR}: ${why}`;
    }
    // Another run may have finished first: keep whichever is in place.
    await fs.rename(`${tmp}/root`, ROOTFS).catch(() => {});
    return false;
  } finally {
    await fs.remove(tmp, { recursive: true });
  }
}

const skip = needsRoot() || await needsTmux() || await debianRoot();

/** Why the container cannot download packages from the mirror, or false when it can. */
async function needsMirror(): Promise<string | false> {
  const r = await run(["timeout", "10", "bash", "-c", "</dev/tcp/deb.debian.org/80"], {
    check: false,
  });
  return r.code === 0 ? false : "deb.debian.org:80 is not reachable from this host";
}
const skipApt = skip || await needsMirror();

/** Types `cmd` followed by a marker whose output differs from its echo; waits for it. */
async function step(t: Tmux, cmd: string, n: number, ms?: number): Promise<string> {
  await t.type(`${cmd}; echo "m$((${n}+2000))x"`);
  return await t.waitFor(new RegExp(`^m${n + 2000}x`, "m"), cmd, ms);
}

test("debian: useradd, su, & and nohup, job control in an interactive bash", async () => {
  const s = await Store.create();
  const t = await Tmux.start(160, 40);
  try {
    await s.ok("import", ROOTFS, "debian:12");
    const hako = [...hakoArgv(), "--root", s.root].join(" ");
    await t.type(`${hako} run -it --rm --network none -h deb debian:12 bash`);
    await t.waitFor(/^root@deb:\/# /m, "bash's prompt");

    let screen = await step(t, "useradd -m -s /bin/bash alice && id alice", 1);
    assert(/^uid=1000\(alice\) gid=1000\(alice\) groups=1000\(alice\)$/m.test(screen), screen);
    screen = await step(t, `su - alice -c 'echo "$(id -un) $HOME $(tty)"'`, 2);
    assert(/^alice \/home\/alice \/dev\/pts\/0$/m.test(screen), screen);

    // An interactive su: a new shell as alice on the same terminal, and back.
    await t.type("su alice");
    await t.waitFor(/^alice@deb:\/\$ /m, "alice's prompt");
    screen = await step(t, 'echo "I am $(whoami)"', 3);
    assert(/^I am alice$/m.test(screen), screen);
    await t.waitForNew(/^root@deb:\/# /m, "root's prompt", () => t.type("exit"));

    // Background jobs with & and nohup.
    screen = await step(t, "sleep 300 & jobs", 4);
    assert(/^\[1\]\+\s+Running\s+sleep 300 &$/m.test(screen), screen);
    screen = await step(
      t,
      `nohup sh -c 'echo from-nohup' > /tmp/n.out 2>&1 & wait $!; cat /tmp/n.out`,
      5,
    );
    assert(/^from-nohup$/m.test(screen), screen);
    screen = await step(
      t,
      "nohup sleep 100 >/dev/null 2>&1 & p=$!; until grep -q 'sleep' /proc/$p/comm; do sleep 0.05; done; kill -HUP $p; sleep 0.2; kill -0 $p && echo hup-ignored",
      6,
    );
    assert(/^hup-ignored$/m.test(screen), screen);
    screen = await step(t, "kill $(jobs -p); wait; jobs; echo jobs-left=$(jobs | wc -l)", 7);
    assert(/^jobs-left=0$/m.test(screen), screen);

    // Job control: Ctrl-Z stops the foreground job, bg resumes it, fg brings it back,
    // Ctrl-C ends it.
    await t.type('echo "z$((7*7))"; sleep 200');
    await t.waitFor(/^z49$/m, "sleep to start");
    await t.keys("C-z");
    await t.waitFor(/^\[1\]\+\s+Stopped\s+sleep 200$/m, "the job to stop");
    screen = await step(t, "bg; jobs", 8);
    assert(/^\[1\]\+\s+Running\s+sleep 200 &$/m.test(screen), screen);
    await t.type("fg");
    await t.waitFor(/^sleep 200$/m, "fg to name the job");
    await t.keys("C-c");
    screen = await step(t, 'echo "fg=$?"; echo jobs-left=$(jobs | wc -l)', 9);
    assert(/^fg=130$/m.test(screen) && /^jobs-left=0$/m.test(screen), screen);

    await t.waitForNew(/^host\$ $/m, "the host prompt", () => t.type("exit"));
    assert((await s.containerIds()).length === 0, "--rm");
  } finally {
    await t.kill();
    await s.cleanup();
  }
}, { skip, timeout: 600_000 });

test(
  "debian: exec -it into a running Debian container, apt-get install, use what it installed",
  async () => {
    const s = await Store.create();
    const t = await Tmux.start(160, 40);
    try {
      await s.ok("import", ROOTFS, "debian:12");
      await s.ok("run", "-d", "--name", "deb", "-h", "deb", "debian:12", "sleep", "infinity");
      const hako = [...hakoArgv(), "--root", s.root].join(" ");
      await t.type(`${hako} exec -it deb bash`);
      await t.waitFor(/^root@deb:\/# /m, "bash's prompt");
      let screen = await step(t, "command -v ps || echo no-ps", 11);
      assert(/^no-ps$/m.test(screen), `minbase has no procps:\n${screen}`);
      screen = await step(
        t,
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq procps >/tmp/apt.log 2>&1; echo apt=$?",
        12,
        600_000, // a download: minutes on a slow mirror
      );
      assert(/^apt=0$/m.test(screen), `apt-get install procps:\n${screen}`);
      screen = await step(t, "ps -o pid=,tty=,comm= -p 1,$$", 13);
      assert(/^\s*1 \?\s+sleep$/m.test(screen), `the container's init as pid 1:\n${screen}`);
      assert(
        /^\s*\d+ pts\/0\s+bash$/m.test(screen),
        `this shell on the container's pty:\n${screen}`,
      );
      await t.waitForNew(/^host\$ $/m, "the host prompt", () => t.type("exit"));
      // The package stays in the container's layer for the next exec.
      assertEquals((await s.ok("exec", "deb", "sh", "-c", "command -v ps")).trim(), "/usr/bin/ps");
    } finally {
      await t.kill();
      await s.cleanup();
    }
  },
  { skip: skipApt, timeout: 600_000 },
);
