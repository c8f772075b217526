/**
 * Terminals: the host terminal's modes and size (termios and winsize ioctls), raw mode that
 * is put back even when hako dies, and the pseudo-terminal a `-t` container gets.
 *
 * The pty is opened *inside* the container, from its own devpts instance (/dev/ptmx →
 * pts/ptmx), as runc and crun do: programs that look up their terminal's name (tty, tmux,
 * ssh, gpg) then find /dev/pts/N in the container. The plan sends the master back to hako
 * over a socketpair (SCM_RIGHTS, crun's "console socket"), so no host pty is visible inside.
 *
 * @module
 */

import {
  AT_FDCWD,
  close,
  E,
  kill,
  O,
  O_CLOEXEC,
  pipe2,
  Plan,
  SIG,
  start,
  SYS,
  sys,
  wait4,
} from "../../ffi/mod.ts";
import { addr, check, SysError } from "../../ffi/mod.ts";
import { MS, S } from "./linux.ts";
import { dupCloexec, planSendFd, receiveFd, socketPair } from "./unix_socket.ts";

/** Terminal ioctls (asm-generic values, the same on x86-64 and aarch64). */
export const TIOC = {
  TCGETS: 0x5401,
  TCSETS: 0x5402,
  TCSETSW: 0x5403,
  TIOCSCTTY: 0x540e,
  TIOCGWINSZ: 0x5413,
  TIOCSWINSZ: 0x5414,
  TIOCGPTN: 0x80045430,
  TIOCSPTLCK: 0x40045431,
  TIOCGPTPEER: 0x5441,
} as const;

const SIGTTOU = 22;

/** A terminal window size. */
export interface Winsize {
  rows: number;
  cols: number;
}

/** The kernel's `struct termios` (36 bytes) of a terminal, or null when `fd` is not one. */
export function getTermios(fd: number): Uint8Array | null {
  const t = new Uint8Array(36);
  const r = sys(SYS.ioctl, fd, TIOC.TCGETS, addr(t));
  if (r === BigInt(-E.ENOTTY) || r === BigInt(-E.EBADF) || r === BigInt(-E.EINVAL)) return null;
  check(r, `read the terminal modes of fd ${fd}`);
  return t;
}

/** Sets a terminal's modes (after pending output is written). */
export function setTermios(fd: number, t: Uint8Array): void {
  check(sys(SYS.ioctl, fd, TIOC.TCSETSW, addr(t)), `set the terminal modes of fd ${fd}`);
}

/** cfmakeraw(3): no echo, no line editing, no signals from keys, 8-bit, byte at a time. */
export function makeRaw(t: Uint8Array): Uint8Array {
  const r = t.slice();
  const v = new DataView(r.buffer);
  const IGNBRK = 1, BRKINT = 2, PARMRK = 0o10, ISTRIP = 0o40, INLCR = 0o100, IGNCR = 0o200;
  const ICRNL = 0o400, IXON = 0o2000, OPOST = 1;
  const ECHO = 0o10, ECHONL = 0o100, ICANON = 2, ISIG = 1, IEXTEN = 0o100000;
  const CSIZE = 0o60, PARENB = 0o400, CS8 = 0o60;
  v.setUint32(
    0,
    v.getUint32(0, true) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON),
    true,
  );
  v.setUint32(4, v.getUint32(4, true) & ~OPOST, true);
  v.setUint32(8, (v.getUint32(8, true) & ~(CSIZE | PARENB)) | CS8, true);
  v.setUint32(12, v.getUint32(12, true) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN), true);
  r[17 + 5] = 0; // VTIME
  r[17 + 6] = 1; // VMIN
  return r;
}

/** The window size of a terminal, or null when `fd` is not one. */
export function getWinsize(fd: number): Winsize | null {
  const w = new Uint16Array(4);
  if (sys(SYS.ioctl, fd, TIOC.TIOCGWINSZ, addr(w)) < 0n) return null;
  return { rows: w[0], cols: w[1] };
}

/** Sets the window size of a pty (the foreground job gets SIGWINCH). */
export function setWinsize(fd: number, ws: Winsize): void {
  const w = new Uint16Array([ws.rows, ws.cols, 0, 0]);
  check(sys(SYS.ioctl, fd, TIOC.TIOCSWINSZ, addr(w)), `set the window size of fd ${fd}`);
}

/**
 * The host terminal in raw mode. `restore()` puts the saved modes back; if hako dies
 * without getting there (SIGKILL, a crash) a small guard process does it: it blocks reading
 * a pipe only hako holds, and at EOF restores the modes and exits. A normal `restore()`
 * stops the guard first, so it can never undo the modes a shell sets after hako.
 */
export class RawTerminal {
  readonly fd: number;
  readonly #saved: Uint8Array;
  #guard?: { pid: number; pipe: number; done: Promise<unknown> };
  #restored = false;

  private constructor(fd: number, saved: Uint8Array) {
    this.fd = fd;
    this.#saved = saved;
  }

  /**
   * Puts `fd` (a terminal) in raw mode; null when it is not a terminal. Call it while
   * hako holds no lock or other file it must release: the guard keeps copies of fds.
   */
  static enter(fd = 0): RawTerminal | null {
    const saved = getTermios(fd);
    if (!saved) return null;
    const t = new RawTerminal(fd, saved);
    t.#startGuard();
    setTermios(fd, makeRaw(saved));
    return t;
  }

  #startGuard() {
    const [r, w] = pipe2(O_CLOEXEC);
    const p = new Plan();
    p.syscall(SYS.close, [w], "close the guard pipe's write end");
    // Once hako is gone its shell takes the terminal back; a background TCSETSW must not
    // stop the guard with SIGTTOU.
    const ign = new BigUint64Array([1n, 0n, 0n, 0n]); // SIG_IGN
    p.syscall(
      SYS.rt_sigaction,
      [SIGTTOU, p.bytes(new Uint8Array(ign.buffer)), 0, 8],
      "ignore SIGTTOU",
    );
    const buf = p.bytes(new Uint8Array(1));
    // Returns at EOF: every copy of the write end is gone, so hako is.
    p.syscall(SYS.read, [r, buf, 1], "wait for hako to end", { ignore: "all" });
    p.syscall(SYS.ioctl, [this.fd, TIOC.TCSETSW, p.bytes(this.#saved)], "restore the terminal", {
      ignore: "all",
    });
    p.exit(0);
    try {
      const s = start(p, { cloneFlags: 0 });
      this.#guard = { pid: s.pid, pipe: w, done: s.report().catch(() => {}) };
    } catch (e) {
      close(w);
      throw e;
    } finally {
      close(r);
    }
  }

  /** Puts the saved modes back (idempotent) and stops the guard. */
  async restore(): Promise<void> {
    if (this.#restored) return;
    this.#restored = true;
    try {
      setTermios(this.fd, this.#saved);
    } catch { /* the terminal is gone */ }
    const g = this.#guard;
    if (!g) return;
    this.#guard = undefined;
    try {
      kill(g.pid, SIG.SIGKILL);
    } catch { /* already gone */ }
    close(g.pipe);
    await g.done;
    await wait4(g.pid).catch(() => {});
  }
}

/** What the plan needs to open the container's pty. */
export interface ConsoleInput {
  /** The socket (child end) the master is sent over. */
  socket: number;
  /** A descriptor number the parent reserved; the master is placed there to be sent. */
  reserved: number;
  /** Initial window size (set before the command starts, so it never sees 0x0). */
  winsize?: Winsize;
}

/** Where the plan puts the pty. */
export interface ConsoleTarget {
  /** Owner of the follower (the container user, as runc's fixStdioPermissions). */
  uid: number;
  /** Also bind the follower on /dev/console (a new container; needs /proc mounted). */
  bindConsole: boolean;
}

/**
 * Plan steps, run inside the container after its root is in place (after pivot_root for a
 * new container, after setns into the mount namespace for exec) and after setsid: open a
 * pty from the container's devpts, send the master to hako, and make the follower the
 * controlling terminal and fds 0-2 (and /dev/console).
 */
export function consoleSteps(p: Plan, c: ConsoleInput, t: ConsoleTarget): void {
  const master = p.slot(), follower = p.slot();
  p.syscall(
    SYS.openat,
    [AT_FDCWD, p.str("/dev/ptmx"), O.RDWR | O.NOCTTY | O.CLOEXEC, 0],
    "open /dev/ptmx in the container",
    { store: master },
  );
  p.syscall(SYS.dup3, [0, c.reserved, O.CLOEXEC], "move the pty master", {
    fromSlot: { 0: master },
  });
  p.syscall(SYS.ioctl, [c.reserved, TIOC.TIOCSPTLCK, p.bytes(new Uint8Array(4))], "unlock the pty");
  p.syscall(SYS.ioctl, [c.reserved, TIOC.TIOCGPTPEER, O.RDWR | O.NOCTTY], "open the pty follower", {
    store: follower,
  });
  if (c.winsize) {
    const w = new Uint16Array([c.winsize.rows, c.winsize.cols, 0, 0]);
    p.syscall(SYS.ioctl, [0, TIOC.TIOCSWINSZ, p.bytes(new Uint8Array(w.buffer))], "set the size", {
      fromSlot: { 0: follower },
    });
  }
  if (t.uid !== 0) {
    p.syscall(SYS.fchown, [0, t.uid, -1], "give the terminal to the user", {
      fromSlot: { 0: follower },
      ignore: "all",
    });
  }
  planSendFd(p, c.socket, c.reserved, "send the pty master to hako");
  p.syscall(SYS.ioctl, [0, TIOC.TIOCSCTTY, 0], "make the pty the controlling terminal", {
    fromSlot: { 0: follower },
  });
  for (let i = 0; i < 3; i++) {
    p.syscall(SYS.dup3, [0, i, 0], `the pty as fd ${i}`, { fromSlot: { 0: follower } });
  }
  if (t.bindConsole) {
    p.syscall(
      SYS.mknodat,
      [AT_FDCWD, p.str("/dev/console"), S.IFREG | 0o600, 0],
      "create /dev/console",
      { ignore: E.EEXIST },
    );
    p.syscall(
      SYS.mount,
      [p.str("/proc/self/fd/0"), p.str("/dev/console"), 0, MS.BIND, 0],
      "bind the pty on /dev/console",
    );
  }
}

/**
 * hako's end of a console socket: give `input(winsize)` to the plan, then after the
 * plan has run call `receive()` for the pty master.
 */
export class ConsoleSocket {
  readonly #mine: number;
  readonly #child: number;
  readonly #reserved: number;
  #closed = false;

  constructor() {
    [this.#mine, this.#child] = socketPair();
    try {
      this.#reserved = dupCloexec(this.#child);
    } catch (e) {
      close(this.#mine);
      close(this.#child);
      throw e;
    }
  }

  /** The plan's side of it. */
  input(winsize?: Winsize): ConsoleInput {
    return { socket: this.#child, reserved: this.#reserved, winsize };
  }

  /** The pty master the plan sent (close-on-exec); throws when none arrived. */
  receive(): number {
    const fd = receiveFd(this.#mine);
    if (fd === null) throw new SysError(E.EIO, "receive the terminal from the container");
    return fd;
  }

  /** Closes every socket end (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [this.#mine, this.#child, this.#reserved]) close(fd);
  }
}
