/**
 * Issue 5 at a real terminal, driven through tmux: `run -it`, `exec -it`, and `run -it -d`
 * with attach, detach (Ctrl-P Ctrl-Q) and re-attach. Line editing, Ctrl-C to the
 * container's foreground job, window size changes, and the host terminal's modes being the
 * same afterwards are checked on the screen, as a person would see them.
 */

import { assert, needsRoot, test } from "../harness.ts";
import { needsBusybox } from "../fixtures.ts";
import { hakoArgv, hostTraces, Store } from "../hako.ts";
import { needsTmux, Tmux } from "../tmux.ts";

const skip = needsRoot() || await needsBusybox() || await needsTmux();

/** The shell command that runs hako in `s`. */
function hako(s: Store): string {
  return [...hakoArgv(), "--root", s.root].join(" ");
}

/**
 * Types a command whose output marker differs from what is typed ("m$((1+1))x" prints
 * "m2x"), so the wait is for the output, never for the echo of the input.
 */
async function step(t: Tmux, cmd: string, n: number): Promise<string> {
  await t.type(`${cmd}; echo "m$((${n}+1000))x"`);
  return await t.waitFor(new RegExp(`^m${n + 1000}x`, "m"), cmd);
}

/** Line editing, Ctrl-C and a resize inside a busybox shell at the terminal of `t`. */
async function shellSession(t: Tmux) {
  await t.waitFor(/^\/\S* [#$]/m, "the container's prompt");
  let screen = await step(t, "busybox tty; busybox stty size", 1);
  assert(/^\/dev\/pts\/0$/m.test(screen), `the pty is the container's own:\n${screen}`);
  assert(/^30 120$/m.test(screen), `the initial size:\n${screen}`);

  // Line editing: two backspaces, two steps left, an insert.
  await t.keys("-l", "echo abcdef");
  await t.keys("BSpace", "BSpace", "Left", "Left", "X", "Enter");
  await t.waitFor(/^abXcd$/m, "the edited line");

  // Ctrl-C reaches the foreground job in the container, not hako.
  await t.type(`echo "s$((5+5))x"; sleep 1000`);
  await t.waitFor(/^s10x$/m, "sleep to start");
  await t.keys("C-c");
  screen = await step(t, 'echo "rc=$?"', 2);
  assert(/^rc=130$/m.test(screen), `sleep ended by SIGINT:\n${screen}`);

  await t.resize(80, 24);
  screen = await step(t, "busybox stty size", 3);
  assert(/^24 80$/m.test(screen), `the size follows the window:\n${screen}`);
}

/** Checks the host terminal's modes equal those saved in `${dir}/before`. */
async function sameModes(t: Tmux, dir: string) {
  await t.type(`stty -g > ${dir}/after; cmp ${dir}/before ${dir}/after && echo "same$((1+1))"`);
  await t.waitFor(/^same2$/m, "the host terminal's modes to be the saved ones");
}

test("tty: run -it gives a real terminal and leaves the host terminal as it was", async () => {
  const s = await Store.create("bb:1");
  const t = await Tmux.start(120, 30);
  try {
    await t.type(`stty -g > ${s.root}/before; ${hako(s)} run -it --rm --network none bb:1 sh`);
    await shellSession(t);
    await t.waitForNew(/^host\$ $/m, "the host prompt", () => t.type("exit 3"));
    await t.type('echo "exit=$?"');
    await t.waitFor(/^exit=3$/m, "run's exit code");
    await sameModes(t, s.root);
    assert((await s.containerIds()).length === 0, "--rm");
  } finally {
    await t.kill();
    await s.cleanup();
  }
}, { skip });

test("tty: exec -it into a running container as another user", async () => {
  const s = await Store.create("bb:1");
  const t = await Tmux.start(120, 30);
  try {
    const id =
      (await s.ok("run", "-d", "--network", "none", "--name", "web", "bb:1", "sleep", "1000"))
        .trim();
    await t.type(`stty -g > ${s.root}/before; ${hako(s)} exec -it -u app -w /tmp web sh`);
    await shellSession(t);
    const screen = await step(t, "id -un; pwd; ps", 4);
    assert(/^app$/m.test(screen) && /^\/tmp$/m.test(screen), screen);
    assert(
      /^\s+1 app\s+sleep 1000$/m.test(screen) || /^\s+1 root\s+sleep 1000$/m.test(screen),
      screen,
    );
    await t.waitForNew(/^host\$ $/m, "the host prompt", () => t.type("exit 5"));
    await t.type('echo "exit=$?"');
    await t.waitFor(/^exit=5$/m, "exec's exit code");
    await sameModes(t, s.root);
    await s.ok("rm", "-f", "web");
    assert((await hostTraces(id)).length === 0, "nothing left");
  } finally {
    await t.kill();
    await s.cleanup();
  }
}, { skip });

test("tty: run -it -d, attach, detach with Ctrl-P Ctrl-Q, attach again", async () => {
  const s = await Store.create("bb:1");
  const t = await Tmux.start(120, 30);
  try {
    await t.type(
      `stty -g > ${s.root}/before; ${hako(s)} run -it -d --network none --name tt bb:1 sh`,
    );
    await t.waitFor(/^[0-9a-f]{64}$/m, "the container id");
    await t.type(`${hako(s)} attach tt`);
    await shellSession(t);
    await t.type("echo keep > /tmp/state");
    await t.keys("C-p", "C-q");
    await t.type('echo "detached=$?"');
    await t.waitFor(/^detached=0$/m, "attach to return after detaching");
    assert(/^.*Up .* tt$/m.test(await s.ok("ps")), "the container still runs");
    await sameModes(t, s.root);

    await t.keys("C-l");
    await t.type(`${hako(s)} attach tt`);
    // Nothing is redrawn on attach; a new line shows the prompt.
    await t.keys("Enter");
    await t.waitFor(/^\/ # /m, "the prompt after re-attaching");
    const screen = await step(t, "cat /tmp/state; busybox stty size", 5);
    assert(/^keep$/m.test(screen), `the same shell:\n${screen}`);
    assert(/^24 80$/m.test(screen), `attach sends its window size:\n${screen}`);
    await t.waitForNew(/^host\$ $/m, "the host prompt", () => t.type("exit 4"));
    await t.type('echo "attached=$?"');
    await t.waitFor(/^attached=4$/m, "attach to return the container's exit code");
    await sameModes(t, s.root);
    const logs = (await s.hako(["logs", "tt"])).stdout;
    assert(logs.includes("abXcd"), `tty output is logged:\n${logs}`);
  } finally {
    await t.kill();
    await s.cleanup();
  }
}, { skip });
