/**
 * Unix domain sockets through raw syscalls: a socketpair that carries a file descriptor
 * (SCM_RIGHTS, how the container hands its pty master to hako, like crun's console
 * socket), and a listening socket in the state directory for `attach`.
 *
 * Socket paths under a test root easily pass sun_path's 108 bytes, so paths are bound and
 * connected through "/proc/self/fd/<dirfd>/<name>", which is always short.
 *
 * @module
 */

import {
  addr,
  AT_FDCWD,
  check,
  close,
  E,
  O,
  openat,
  type Plan,
  SYS,
  sys,
  SysError,
} from "../../ffi/mod.ts";

const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000, SOCK_NONBLOCK = 0o4000;
const SOL_SOCKET = 1, SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40, MSG_CMSG_CLOEXEC = 0x40000000;
const F_DUPFD_CLOEXEC = 1030;

/** A connected pair of stream sockets, both close-on-exec. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check(
    sys(SYS.socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, addr(fds)),
    "create a socket pair",
  );
  return [fds[0], fds[1]];
}

/** A close-on-exec copy of `fd` at the lowest free number ≥ 3. */
export function dupCloexec(fd: number): number {
  return Number(check(sys(SYS.fcntl, fd, F_DUPFD_CLOEXEC, 3), `duplicate fd ${fd}`));
}

/**
 * Adds a plan step that sends the descriptor numbered `fd` over `sock` with SCM_RIGHTS
 * (one data byte). The plan keeps copies of every buffer, so the pointers are its own.
 */
export function planSendFd(p: Plan, sock: number, fd: number, what: string): void {
  const data = p.bytes(new Uint8Array([0x21]));
  const iov = p.bytes(new Uint8Array(new BigUint64Array([data, 1n]).buffer));
  const cmsg = new Uint8Array(24); // CMSG_SPACE(sizeof(int))
  const cv = new DataView(cmsg.buffer);
  cv.setBigUint64(0, 20n, true); // CMSG_LEN(sizeof(int))
  cv.setInt32(8, SOL_SOCKET, true);
  cv.setInt32(12, SCM_RIGHTS, true);
  cv.setInt32(16, fd, true);
  // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
  const msg = new BigUint64Array([0n, 0n, iov, 1n, p.bytes(cmsg), 24n, 0n]);
  p.syscall(SYS.sendmsg, [sock, p.bytes(new Uint8Array(msg.buffer)), 0], what);
}

/**
 * Takes a descriptor sent with SCM_RIGHTS off `sock` without waiting; null when nothing
 * was sent (the sender failed before it got there). The new fd is close-on-exec.
 */
export function receiveFd(sock: number): number | null {
  const data = new Uint8Array(1);
  const iov = new BigUint64Array([addr(data), 1n]);
  const cmsg = new Uint8Array(24);
  const msg = new BigUint64Array(7);
  msg[2] = addr(iov);
  msg[3] = 1n;
  msg[4] = addr(cmsg);
  msg[5] = 24n;
  const r = sys(SYS.recvmsg, sock, addr(msg), MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (r === BigInt(-E.EAGAIN) || r === 0n) return null;
  check(r, "receive the terminal from the container");
  const cv = new DataView(cmsg.buffer);
  if (cv.getBigUint64(0, true) < 20n || cv.getInt32(12, true) !== SCM_RIGHTS) return null;
  return cv.getInt32(16, true);
}

function sockaddr(path: string): Uint8Array {
  const b = new Uint8Array(110);
  new DataView(b.buffer).setUint16(0, AF_UNIX, true);
  const p = new TextEncoder().encode(path);
  if (p.length > 107) throw new RangeError(`socket path too long: ${path}`);
  b.set(p, 2);
  return b;
}

function shortPath(dirfd: number, name: string): string {
  return `/proc/self/fd/${dirfd}/${name}`;
}

/**
 * Listens on a unix socket `name` in directory `dir` (replacing a stale one), mode 0600,
 * non-blocking; returns the listening fd.
 */
export function listenUnix(dir: string, name: string): number {
  const dirfd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  let fd = -1;
  try {
    const path = shortPath(dirfd, name);
    sys(SYS.unlinkat, AT_FDCWD, addr(new TextEncoder().encode(path + "\0")), 0);
    fd = Number(check(
      sys(SYS.socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0),
      "create a unix socket",
    ));
    const sa = sockaddr(path);
    const old = Number(sys(SYS.umask, 0o177));
    try {
      check(sys(SYS.bind, fd, addr(sa), sa.length), `bind ${dir}/${name}`);
    } finally {
      sys(SYS.umask, old);
    }
    check(sys(SYS.listen, fd, 16), `listen on ${dir}/${name}`);
    return fd;
  } catch (e) {
    if (fd >= 0) close(fd);
    throw e;
  } finally {
    close(dirfd);
  }
}

/** Accepts one pending connection (non-blocking, close-on-exec), or null when none waits. */
export function acceptNow(listenFd: number): number | null {
  const r = sys(SYS.accept4, listenFd, 0, 0, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (r === BigInt(-E.EAGAIN) || r === BigInt(-E.EINTR)) return null;
  return Number(check(r, "accept an attach connection"));
}

/** Connects to the unix socket `name` in `dir`; throws SysError (ENOENT, ECONNREFUSED). */
export function connectUnix(dir: string, name: string): number {
  const dirfd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    const fd = Number(check(
      sys(SYS.socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
      "create a unix socket",
    ));
    const sa = sockaddr(shortPath(dirfd, name));
    const r = sys(SYS.connect, fd, addr(sa), sa.length);
    if (r < 0n) {
      close(fd);
      throw new SysError(Number(-r), `connect to ${dir}/${name}`);
    }
    return fd;
  } finally {
    close(dirfd);
  }
}

export { MSG_DONTWAIT };
