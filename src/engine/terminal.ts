/**
 * A terminal session: the host terminal on one side, a container's pty master (run -it,
 * exec -it) or an attach socket on the other. Bytes flow both ways through one ppoll loop
 * off the JavaScript thread; the host window size follows SIGWINCH; a detach key sequence
 * (Docker's Ctrl-P Ctrl-Q) can end it without touching the container.
 */

import { E, SYS, sys } from "../../ffi/mod.ts";
import { addr } from "../../ffi/mod.ts";
import { onSignal } from "../../ffi/host.ts";
import { UsageError } from "../errors.ts";
import { POLL, poll, pollNow, setNonBlocking, Waker, writeAll } from "../runtime/poll.ts";
import { getWinsize, type Winsize } from "../runtime/tty.ts";

/** Docker's default detach keys. */
export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/**
 * Parses Docker's `--detach-keys` ("ctrl-p,ctrl-q", "ctrl-@", "a,ctrl-b") into bytes.
 *
 * @example
 * ```ts
 * parseDetachKeys("ctrl-p,ctrl-q"); // Uint8Array [16, 17]
 * ```
 */
export function parseDetachKeys(spec: string): Uint8Array {
  const out: number[] = [];
  for (const key of spec.split(",")) {
    const k = key.trim();
    const m = /^ctrl-(.)$/i.exec(k);
    if (m) {
      const c = m[1].toLowerCase();
      const code = c >= "a" && c <= "z"
        ? c.charCodeAt(0) - 96
        : { "@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31 }[c];
      if (code === undefined) throw new UsageError(`invalid detach key: ${k}`);
      out.push(code);
    } else if (k.length === 1 && k.charCodeAt(0) < 128) {
      out.push(k.charCodeAt(0));
    } else {
      throw new UsageError(`invalid detach keys "${spec}": unknown key ${k || "(empty)"}`);
    }
  }
  return new Uint8Array(out);
}

/**
 * Watches typed input for the detach sequence. Bytes that might start it are held back
 * until it either completes (detach) or breaks (they are passed on), as Docker does.
 */
export class DetachMatcher {
  readonly #keys: Uint8Array;
  #matched = 0;

  constructor(keys: Uint8Array) {
    this.#keys = keys;
  }

  /** Feeds input; returns what to forward and whether the sequence completed. */
  feed(chunk: Uint8Array): { forward: Uint8Array; detach: boolean } {
    if (!this.#keys.length) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.#keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === this.#keys.length) {
          this.#matched = 0;
          return { forward: new Uint8Array(out), detach: true };
        }
        continue;
      }
      // The held prefix was not the sequence after all: pass it on, then look again at b.
      out.push(...this.#keys.subarray(0, this.#matched));
      this.#matched = b === this.#keys[0] ? 1 : 0;
      if (!this.#matched) out.push(b);
    }
    return { forward: new Uint8Array(out), detach: false };
  }
}

/** How a session ended. */
export type SessionEnd = "eof" | "detached" | "stopped";

/** What a session connects. */
export interface SessionOptions {
  /** The container side: a pty master or an attach socket (made non-blocking). */
  peer: number;
  /** Host input to forward (usually fd 0); none when absent. */
  input?: number;
  /** Host output (usually fd 1). */
  output: number;
  /** Turns typed bytes into what the peer expects (attach frames them). */
  frame?: (data: Uint8Array) => Uint8Array;
  /** Takes what the peer sends instead of writing it to `output` (attach unframes it). */
  receive?: (data: Uint8Array) => void;
  /** Called once when host input reaches end of file. */
  onInputEnd?: () => void;
  /** Ends the session when typed (not forwarded). */
  detachKeys?: Uint8Array;
  /** Called with the host window size on SIGWINCH. */
  onResize?: (ws: Winsize) => void;
}

/** A running session. */
export interface Session {
  /** Resolves when the peer closes, the detach keys are typed, or after `stop()`. */
  done: Promise<SessionEnd>;
  /** Ends the session after copying what the peer has already written. */
  stop(): void;
  /** Queues bytes for the peer (after what was typed before). */
  send(data: Uint8Array): void;
}

const CHUNK = 65536;
/** How long `stop()` keeps copying output that is still on its way through the pty. */
const DRAIN_QUIET_MS = 50;

/**
 * Starts copying between the host terminal and `peer`.
 *
 * @example
 * ```ts
 * const s = startSession({ peer: master, input: 0, output: 1 });
 * await wait4(pid);
 * s.stop();
 * await s.done;
 * ```
 */
export function startSession(o: SessionOptions): Session {
  setNonBlocking(o.peer);
  const waker = new Waker();
  let stopping = false;
  const matcher = new DetachMatcher(o.detachKeys ?? new Uint8Array());
  const offResize = o.onResize
    ? onSignal("SIGWINCH", () => {
      const ws = getWinsize(o.input ?? o.output) ?? getWinsize(o.output);
      if (ws) o.onResize!(ws);
    })
    : () => {};
  const buf = new Uint8Array(CHUNK);
  const toPeer: Uint8Array[] = [];
  let inputOpen = o.input !== undefined;

  /** Copies everything readable now from the peer; false at its end. */
  const readPeer = (): boolean => {
    for (;;) {
      const r = sys(SYS.read, o.peer, addr(buf), buf.length);
      if (r > 0n) {
        const data = buf.slice(0, Number(r));
        if (o.receive) o.receive(data);
        else if (!writeAll(o.output, data)) inputOpen = false;
        continue;
      }
      if (r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR)) return true;
      return false; // 0 = EOF; EIO = every follower closed
    }
  };
  const flushPeer = (): boolean => {
    while (toPeer.length) {
      const b = toPeer[0];
      const r = sys(SYS.write, o.peer, addr(b), b.length);
      if (r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR)) return true;
      if (r < 0n) return false;
      if (Number(r) < b.length) toPeer[0] = b.subarray(Number(r));
      else toPeer.shift();
    }
    return true;
  };
  const drain = () => {
    for (;;) {
      if (!readPeer()) return;
      if (!(pollNow([{ fd: o.peer, events: POLL.IN }], DRAIN_QUIET_MS)[0] & POLL.IN)) return;
    }
  };

  const loop = async (): Promise<SessionEnd> => {
    for (;;) {
      const queued = toPeer.reduce((n, b) => n + b.length, 0);
      const fds = [
        { fd: o.peer, events: POLL.IN | (queued ? POLL.OUT : 0) },
        { fd: waker.fd, events: POLL.IN },
      ];
      const withInput = inputOpen && queued < (1 << 20);
      if (withInput) fds.push({ fd: o.input!, events: POLL.IN });
      const rev = await poll(fds);
      if (rev[1]) {
        waker.drain();
        if (stopping) {
          flushPeer();
          drain();
          return "stopped";
        }
        if (!flushPeer()) return "eof";
      }
      if (rev[0] & (POLL.IN | POLL.HUP | POLL.ERR)) {
        if (!readPeer()) return "eof";
      }
      if (rev[0] & POLL.OUT && !flushPeer()) return "eof";
      if (withInput && rev[2]) {
        const r = sys(SYS.read, o.input!, addr(buf), buf.length);
        if (r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR)) continue;
        if (r <= 0n) {
          inputOpen = false;
          o.onInputEnd?.();
          if (!flushPeer()) return "eof";
          continue;
        }
        const { forward, detach } = matcher.feed(buf.slice(0, Number(r)));
        if (forward.length) toPeer.push(o.frame ? o.frame(forward) : forward);
        if (!flushPeer()) return "eof";
        if (detach) return "detached";
      }
    }
  };
  const done = loop().finally(() => {
    offResize();
    waker.close();
  });
  return {
    done,
    stop() {
      stopping = true;
      waker.wake();
    },
    send(data) {
      toPeer.push(data);
      waker.wake();
    },
  };
}
