/**
 * Waiting on several file descriptors without blocking the event loop: ppoll(2) runs off
 * the JavaScript thread, and a wake pipe lets the JavaScript side end a wait it no longer
 * needs (a process exited, a client left).
 *
 * @module
 */

import {
  addr,
  check,
  close,
  E,
  O_CLOEXEC,
  O_NONBLOCK,
  pipe2,
  SYS,
  sys,
  syscallAsync,
} from "../../ffi/mod.ts";

/** poll(2) event bits. */
export const POLL = { IN: 1, PRI: 2, OUT: 4, ERR: 8, HUP: 0x10, NVAL: 0x20 } as const;

/** One descriptor to wait on and the events of interest. */
export interface PollFd {
  fd: number;
  events: number;
}

function pollfds(fds: PollFd[]): Uint8Array {
  const b = new Uint8Array(Math.max(8, fds.length * 8));
  const v = new DataView(b.buffer);
  fds.forEach((f, i) => {
    v.setInt32(i * 8, f.fd, true);
    v.setInt16(i * 8 + 4, f.events, true);
  });
  return b;
}

function revents(b: Uint8Array, n: number): number[] {
  const v = new DataView(b.buffer);
  return Array.from({ length: n }, (_, i) => v.getUint16(i * 8 + 6, true));
}

/**
 * Waits until one of `fds` is ready (off the JavaScript thread); resolves with each one's
 * revents, in order. EINTR is retried.
 *
 * @example
 * ```ts
 * const [master] = await poll([{ fd: master, events: POLL.IN }]);
 * ```
 */
export async function poll(fds: PollFd[]): Promise<number[]> {
  const b = pollfds(fds);
  for (;;) {
    const r = await syscallAsync(SYS.ppoll, addr(b), fds.length, 0, 0, 8);
    if (r === BigInt(-E.EINTR)) continue;
    check(r, "wait for terminal or socket input");
    return revents(b, fds.length);
  }
}

/** Like `poll` but on the calling thread with a timeout in milliseconds (0 = just look). */
export function pollNow(fds: PollFd[], ms: number): number[] {
  const b = pollfds(fds);
  const ts = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1e6)]);
  const r = sys(SYS.ppoll, addr(b), fds.length, addr(ts), 0, 8);
  if (r === BigInt(-E.EINTR)) return fds.map(() => 0);
  check(r, "wait for a file descriptor");
  return revents(b, fds.length);
}

/** A pipe whose read end is added to a poll set so `wake()` ends the wait. */
export class Waker {
  readonly fd: number;
  readonly #w: number;
  #closed = false;

  constructor() {
    [this.fd, this.#w] = pipe2(O_CLOEXEC | O_NONBLOCK);
  }

  /** Makes the pending (or next) poll that includes `fd` return. */
  wake(): void {
    if (!this.#closed) sys(SYS.write, this.#w, addr(new Uint8Array(1)), 1);
  }

  /** Empties the pipe after a wake-up. */
  drain(): void {
    const b = new Uint8Array(64);
    while (sys(SYS.read, this.fd, addr(b), b.length) > 0n);
  }

  /** Closes both ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd);
    close(this.#w);
  }
}

/** Sets or clears O_NONBLOCK on a descriptor hako owns (never on a shared stdin). */
export function setNonBlocking(fd: number, on = true): void {
  const F_GETFL = 3, F_SETFL = 4;
  const fl = Number(check(sys(SYS.fcntl, fd, F_GETFL), `read the flags of fd ${fd}`));
  const next = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  if (next !== fl) check(sys(SYS.fcntl, fd, F_SETFL, next), `set the flags of fd ${fd}`);
}

/**
 * Writes all of `data` to `fd`, waiting (on this thread) while a non-blocking fd is full.
 * Returns false when the reader is gone (EPIPE, EIO, EBADF).
 */
export function writeAll(fd: number, data: Uint8Array): boolean {
  let off = 0;
  while (off < data.length) {
    const r = sys(SYS.write, fd, addr(data.subarray(off)), data.length - off);
    if (r >= 0n) {
      off += Number(r);
      continue;
    }
    const errno = Number(-r);
    if (errno === E.EINTR) continue;
    if (errno === E.EAGAIN) {
      pollNow([{ fd, events: POLL.OUT }], 1000);
      continue;
    }
    if (errno === E.EPIPE || errno === E.EIO || errno === E.EBADF || errno === E.ECONNRESET) {
      return false;
    }
    check(r, `write to fd ${fd}`);
  }
  return true;
}
