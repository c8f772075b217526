/**
 * `attach`: connecting a terminal to a container started in the background. The monitor
 * (run.ts) holds the container's pty master (or its stdin pipe and output pipes) and
 * serves a unix socket, `<state>/containers/<id>/attach.sock`; `hako attach` connects to
 * it. Detaching (Ctrl-P Ctrl-Q) only closes that connection: the container keeps running.
 *
 * Both directions carry frames with Docker's stdcopy header: one byte stream type, three
 * zero bytes, a big-endian 32-bit length. Types: 0 stdin, 1 stdout, 2 stderr, and from the
 * client 3 window size (rows, cols as big-endian 16-bit) and 4 end of stdin.
 */

import { AT_FDCWD, close, E, kill, SYS, sys } from "../../ffi/mod.ts";
import { addr } from "../../ffi/mod.ts";
import { isTerminal, onSignal, writeErr } from "../../ffi/host.ts";
import * as fs from "../../ffi/fs.ts";
import { ConflictError } from "../errors.ts";
import { POLL, poll, pollNow, setNonBlocking, Waker, writeAll } from "../runtime/poll.ts";
import { getWinsize, RawTerminal, setWinsize, type Winsize } from "../runtime/tty.ts";
import { acceptNow, connectUnix, listenUnix } from "../runtime/unix_socket.ts";
import type { Paths } from "./paths.ts";
import { type Container, findId, isAlive, loadRecord, readRecord } from "./record.ts";
import { DEFAULT_DETACH_KEYS, parseDetachKeys, startSession } from "./terminal.ts";

/** Frame types. */
export const STREAM = { STDIN: 0, STDOUT: 1, STDERR: 2, RESIZE: 3, CLOSE_STDIN: 4 } as const;

const SOCKET = "attach.sock";
const AT_REMOVEDIR = 0x200;
/** A client that has this much output queued is too slow and is disconnected. */
const MAX_QUEUED = 4 << 20;

/** The directory of a container's attach socket. */
export function attachDir(paths: Paths, id: string): string {
  return `${paths.run}/containers/${id}`;
}

/** One frame. */
export function frame(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, data.length, false);
  out.set(data, 8);
  return out;
}

/** A window-size frame. */
export function resizeFrame(ws: Winsize): Uint8Array {
  const b = new Uint8Array(4);
  const v = new DataView(b.buffer);
  v.setUint16(0, ws.rows, false);
  v.setUint16(2, ws.cols, false);
  return frame(STREAM.RESIZE, b);
}

/** Splits a byte stream into frames, keeping a partial frame for the next chunk. */
export class Deframer {
  #buf = new Uint8Array(0);

  /** Adds bytes; returns the frames now complete. */
  push(chunk: Uint8Array): { type: number; data: Uint8Array }[] {
    const b = new Uint8Array(this.#buf.length + chunk.length);
    b.set(this.#buf);
    b.set(chunk, this.#buf.length);
    const out: { type: number; data: Uint8Array }[] = [];
    let off = 0;
    while (b.length - off >= 8) {
      const len = new DataView(b.buffer, off + 4, 4).getUint32(0, false);
      if (b.length - off - 8 < len) break;
      out.push({ type: b[off], data: b.slice(off + 8, off + 8 + len) });
      off += 8 + len;
    }
    this.#buf = b.slice(off);
    return out;
  }
}

interface Client {
  fd: number;
  frames: Deframer;
  queue: Uint8Array[];
  queued: number;
}

/**
 * The monitor's side: accepts clients, copies the container's output to each of them and
 * their input to the container. One ppoll loop, off the JavaScript thread.
 */
export class AttachServer {
  readonly #listen: number;
  readonly #path: string;
  readonly #waker = new Waker();
  readonly #clients = new Map<number, Client>();
  #master = -1;
  #onOutput?: (data: Uint8Array | null) => void;
  #stdin = -1;
  #winsize: Winsize = { rows: 24, cols: 80 };
  #closed = false;
  #loop: Promise<void>;

  private constructor(listen: number, path: string) {
    this.#listen = listen;
    this.#path = path;
    this.#loop = this.#run();
  }

  /** Listens on the container's attach socket. */
  static async open(paths: Paths, id: string): Promise<AttachServer> {
    const dir = attachDir(paths, id);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return new AttachServer(listenUnix(dir, SOCKET), `${dir}/${SOCKET}`);
  }

  /** The last window size a client asked for (the pty of a restart starts with it). */
  get winsize(): Winsize {
    return this.#winsize;
  }

  /**
   * Serves a pty master: its output goes to `onOutput` (the log) and every client, client
   * input goes to it. The server owns the fd from now on.
   */
  setPty(master: number, onOutput: (data: Uint8Array | null) => void): void {
    setNonBlocking(master);
    this.#master = master;
    this.#onOutput = onOutput;
    try {
      setWinsize(master, this.#winsize);
    } catch { /* the container may already be gone */ }
    this.#waker.wake();
  }

  /** Copies what is left in the pty to the log and clients, then closes it. */
  endPty(): void {
    if (this.#master < 0) return;
    // Output still on its way through the pty arrives within moments; stop when it is quiet.
    while (this.#readMaster() && pollNow([{ fd: this.#master, events: POLL.IN }], 50)[0]);
    this.#onOutput?.(null);
    close(this.#master);
    this.#master = -1;
    this.#waker.wake();
  }

  /** Client input goes to this pipe (the container's stdin with -i); the server owns it. */
  setStdin(fd: number): void {
    this.#stdin = fd;
  }

  /** Copies output of a non-tty container (stdout 1, stderr 2) to every client. */
  broadcast(stream: 1 | 2, data: Uint8Array): void {
    if (this.#clients.size) this.#send(frame(stream, data));
  }

  /** Disconnects every client (the container stopped: `attach` returns its exit code). */
  dropClients(): void {
    for (const c of [...this.#clients.values()]) this.#drop(c, true);
    if (this.#stdin >= 0) close(this.#stdin), this.#stdin = -1;
    this.#waker.wake();
  }

  /** Stops serving and removes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waker.wake();
    await this.#loop;
    this.dropClients();
    if (this.#master >= 0) close(this.#master), this.#master = -1;
    close(this.#listen);
    this.#waker.close();
    await fs.remove(this.#path).catch(() => {});
    // The directory goes too when nothing else lives there (rmdir fails otherwise).
    const dir = new TextEncoder().encode(this.#path.slice(0, this.#path.lastIndexOf("/")) + "\0");
    sys(SYS.unlinkat, AT_FDCWD, addr(dir), AT_REMOVEDIR);
  }

  #send(f: Uint8Array) {
    for (const c of [...this.#clients.values()]) {
      c.queue.push(f);
      c.queued += f.length;
      if (c.queued > MAX_QUEUED) this.#drop(c, false);
      else this.#flush(c);
    }
  }

  #flush(c: Client): boolean {
    while (c.queue.length) {
      const b = c.queue[0];
      const r = sys(SYS.write, c.fd, addr(b), b.length);
      if (r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR)) return true;
      if (r < 0n) {
        this.#drop(c, false);
        return false;
      }
      c.queued -= Number(r);
      if (Number(r) < b.length) c.queue[0] = b.subarray(Number(r));
      else c.queue.shift();
    }
    return true;
  }

  #drop(c: Client, flush: boolean) {
    if (!this.#clients.has(c.fd)) return;
    if (flush && c.queue.length) {
      setNonBlocking(c.fd, false);
      for (const b of c.queue) if (!writeAll(c.fd, b)) break;
    }
    this.#clients.delete(c.fd);
    close(c.fd);
  }

  /** Reads the pty until it would block; false at its end (every follower closed). */
  #readMaster(): boolean {
    const buf = new Uint8Array(65536);
    for (;;) {
      const r = sys(SYS.read, this.#master, addr(buf), buf.length);
      if (r > 0n) {
        const data = buf.slice(0, Number(r));
        this.#onOutput?.(data);
        this.broadcast(1, data);
        continue;
      }
      return r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR);
    }
  }

  #input(c: Client, chunk: Uint8Array) {
    for (const f of c.frames.push(chunk)) {
      if (f.type === STREAM.STDIN) {
        const to = this.#master >= 0 ? this.#master : this.#stdin;
        if (to >= 0) writeAll(to, f.data);
      } else if (f.type === STREAM.RESIZE && f.data.length >= 4) {
        const v = new DataView(f.data.buffer, f.data.byteOffset, 4);
        this.#winsize = { rows: v.getUint16(0, false), cols: v.getUint16(2, false) };
        if (this.#master >= 0) {
          try {
            setWinsize(this.#master, this.#winsize);
          } catch { /* gone */ }
        }
      } else if (f.type === STREAM.CLOSE_STDIN && this.#stdin >= 0) {
        close(this.#stdin);
        this.#stdin = -1;
      }
    }
  }

  async #run(): Promise<void> {
    const buf = new Uint8Array(65536);
    let masterDone = false, lastMaster = -1;
    while (!this.#closed) {
      if (this.#master !== lastMaster) masterDone = false, lastMaster = this.#master;
      const clients = [...this.#clients.values()];
      const fds = [
        { fd: this.#waker.fd, events: POLL.IN },
        { fd: this.#listen, events: POLL.IN },
        ...clients.map((c) => ({ fd: c.fd, events: POLL.IN | (c.queue.length ? POLL.OUT : 0) })),
      ];
      const withMaster = this.#master >= 0 && !masterDone;
      if (withMaster) fds.push({ fd: this.#master, events: POLL.IN });
      const rev = await poll(fds);
      if (rev[0]) this.#waker.drain();
      if (this.#closed) break;
      if (rev[1] & POLL.IN) {
        for (let fd = acceptNow(this.#listen); fd !== null; fd = acceptNow(this.#listen)) {
          this.#clients.set(fd, { fd, frames: new Deframer(), queue: [], queued: 0 });
        }
      }
      clients.forEach((c, i) => {
        const ev = rev[2 + i];
        if (!ev || !this.#clients.has(c.fd)) return;
        if (ev & POLL.OUT && !this.#flush(c)) return;
        if (ev & (POLL.IN | POLL.HUP | POLL.ERR)) {
          const r = sys(SYS.read, c.fd, addr(buf), buf.length);
          if (r > 0n) this.#input(c, buf.slice(0, Number(r)));
          else if (r !== BigInt(-E.EAGAIN) && r !== BigInt(-E.EINTR)) this.#drop(c, false);
        }
      });
      if (withMaster && rev[fds.length - 1] && this.#master === lastMaster) {
        // At EIO the container's side is closed; endPty() (after wait4) finishes up.
        if (!this.#readMaster()) masterDone = true;
      }
    }
  }
}

/** `attach` options. */
export interface AttachOptions {
  /** Docker's --detach-keys. */
  detachKeys?: string;
  /** Do not send hako's stdin. */
  noStdin?: boolean;
  /** Forward signals hako gets to the container (non-tty containers; default true). */
  sigProxy?: boolean;
}

/**
 * Attaches hako's terminal to a running container until it stops (resolves with its exit
 * code) or the detach keys are typed (resolves with null).
 */
export async function attachContainer(
  paths: Paths,
  ref: string,
  o: AttachOptions = {},
): Promise<number | null> {
  const id = await findId(paths, ref);
  const c = await loadRecord(paths, id);
  if (!c.State.Running) {
    throw new ConflictError("you cannot attach to a stopped container, start it first");
  }
  const keys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  let sock: number;
  try {
    sock = connectUnix(attachDir(paths, id), SOCKET);
  } catch (e) {
    throw new ConflictError(`container ${ref} cannot be attached to: ${(e as Error).message}`);
  }
  const withStdin = c.Config.OpenStdin && !o.noStdin;
  let raw: RawTerminal | null = null;
  const off: (() => void)[] = [];
  try {
    if (c.Config.Tty && withStdin) raw = RawTerminal.enter(0);
    if (!c.Config.Tty && o.sigProxy !== false) off.push(...proxySignals(c));
    const out = new Deframer();
    const s = startSession({
      peer: sock,
      input: withStdin ? 0 : undefined,
      output: 1,
      frame: (d) => frame(STREAM.STDIN, d),
      receive: (d) => {
        for (const f of out.push(d)) writeAll(f.type === STREAM.STDERR ? 2 : 1, f.data);
      },
      onInputEnd: () => {
        if (!c.Config.Tty) s.send(frame(STREAM.CLOSE_STDIN, new Uint8Array()));
      },
      detachKeys: c.Config.Tty && withStdin ? keys : undefined,
      onResize: c.Config.Tty ? (ws) => s.send(resizeFrame(ws)) : undefined,
    });
    if (c.Config.Tty) {
      const ws = (isTerminal(0) ? getWinsize(0) : null) ?? getWinsize(1);
      if (ws) s.send(resizeFrame(ws));
    }
    const end = await s.done;
    if (end === "detached") return null;
  } finally {
    close(sock);
    await raw?.restore();
    for (const f of off) f();
  }
  return await exitCodeOf(paths, id, c);
}

/** Waits (briefly polling) for the monitor to record the exit, and returns its code. */
async function exitCodeOf(paths: Paths, id: string, c: Container): Promise<number> {
  for (let d = 2;; d = Math.min(d * 2, 50)) {
    const r = await readRecord(paths, id);
    if (!r) return c.State.ExitCode;
    if (!r.State.Running || !(await isAlive(r))) {
      return (await loadRecord(paths, id)).State.ExitCode;
    }
    await new Promise((res) => setTimeout(res, d));
  }
}

function proxySignals(c: Container): (() => void)[] {
  const sigs: [Parameters<typeof onSignal>[0], number][] = [
    ["SIGINT", 2],
    ["SIGTERM", 15],
    ["SIGHUP", 1],
    ["SIGQUIT", 3],
  ];
  return sigs.map(([name, num]) =>
    onSignal(name, () => {
      try {
        kill(c.State.Pid, num);
      } catch (e) {
        writeErr(`hako: ${(e as Error).message}\n`);
      }
    })
  );
}
