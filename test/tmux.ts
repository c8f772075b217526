/**
 * Drives an interactive shell in a detached tmux server of its own (`tmux -L <name>`), the
 * way a person at a terminal would: type, press keys, resize the window, read the screen.
 */

import { run } from "./fixtures.ts";

/** Why tmux-driven tests cannot run here, or false when they can. */
export async function needsTmux(): Promise<string | false> {
  const r = await run(["sh", "-c", "command -v tmux"], { check: false });
  return r.code === 0 ? false : "needs tmux (apt-get install tmux)";
}

/** One tmux server with one window running bash. */
export class Tmux {
  private constructor(readonly socket: string) {}

  /** Starts bash (no rc files, prompt "host$ ") in a `cols` x `rows` window. */
  static async start(cols = 120, rows = 30): Promise<Tmux> {
    const t = new Tmux(`hako-test-${crypto.randomUUID().slice(0, 8)}`);
    await t.tmux(
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(cols),
      "-y",
      String(rows),
      "env PS1='host$ ' TERM=xterm bash --norc --noprofile",
    );
    await t.waitFor(/host\$/, "the host prompt");
    return t;
  }

  private async tmux(...args: string[]): Promise<string> {
    return (await run(["tmux", "-L", this.socket, ...args])).stdout;
  }

  /** Presses keys by tmux name ("Enter", "C-c", "BSpace", "Left"). */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", "t", ...keys);
  }

  /** Types `text` literally, then Enter. */
  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "t", "-l", text);
    await this.keys("Enter");
  }

  /** Resizes the window (the terminal in it gets SIGWINCH). */
  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux("resize-window", "-t", "t", "-x", String(cols), "-y", String(rows));
  }

  /** The screen and its scrollback, wrapped lines joined. */
  async screen(): Promise<string> {
    return await this.tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-500");
  }

  /**
   * Waits until the screen matches `re`; returns the screen. The default limit (180 s) is
   * generous: a slow or heavily loaded machine must not fail the test, a hang must not
   * pass it.
   */
  async waitFor(re: RegExp, what: string, ms = 180_000): Promise<string> {
    let screen = "";
    for (const end = Date.now() + ms; Date.now() < end;) {
      screen = await this.screen().catch(() => "");
      if (re.test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what} (${re}); the screen:\n${screen}`);
  }

  /** Runs `action`, then waits until `re` matches more often than it did before. */
  async waitForNew(re: RegExp, what: string, action: () => Promise<void>): Promise<string> {
    const g = new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g");
    const before = (await this.screen()).match(g)?.length ?? 0;
    await action();
    return await this.waitFor({
      test: (s: string) => (s.match(g)?.length ?? 0) > before,
      toString: () => `${re} (more than ${before} times)`,
    } as RegExp, what);
  }

  /** Ends the tmux server and everything in it. */
  async kill(): Promise<void> {
    await run(["tmux", "-L", this.socket, "kill-server"], { check: false });
  }
}
