/**
 * rtnetlink from TypeScript: a NETLINK_ROUTE socket driven through raw sendmsg/recvmsg,
 * and a small builder/parser for its messages (nlmsghdr, a family header, nested rtattrs).
 * Links, addresses and routes are made with it (link.ts, address.ts) so hako never runs
 * `ip`. Every request asks for an ACK; a negative ACK becomes a SysError naming the request.
 *
 * @example
 * ```ts
 * const nl = Netlink.open();
 * try {
 *   const msg = new NlMsg(RTM.GETLINK, NLM_F.REQUEST, ifinfomsg({}));
 *   msg.str(IFLA.IFNAME, "lo");
 *   const [reply] = nl.request(msg, "look up lo");
 * } finally {
 *   nl.close();
 * }
 * ```
 *
 * @module
 */

import { addr, check, E, SYS, sys, SysError } from "../../ffi/mod.ts";

/** Address families. */
export const AF = { UNSPEC: 0, UNIX: 1, INET: 2, NETLINK: 16, BRIDGE: 7 } as const;
const SOCK_RAW = 3, SOCK_CLOEXEC = 0o2000000, NETLINK_ROUTE = 0;

/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** nlmsghdr flags. */
export const NLM_F = {
  REQUEST: 1,
  MULTI: 2,
  ACK: 4,
  ECHO: 8,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
} as const;

const NLMSG_ERROR = 2, NLMSG_DONE = 3;
/** Set on an attribute type that holds nested attributes. */
export const NLA_F_NESTED = 0x8000;

/** IFLA_* link attributes. */
export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  NET_NS_FD: 28,
} as const;
/** IFLA_INFO_* attributes inside IFLA_LINKINFO. */
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
/** VETH_INFO_PEER inside IFLA_INFO_DATA of a veth. */
export const VETH_INFO_PEER = 1;
/** IFA_* address attributes. */
export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4 } as const;
/** RTA_* route attributes. */
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PREFSRC: 7, TABLE: 15 } as const;
/** Interface flags. */
export const IFF = { UP: 1 } as const;

/** An rtnetlink message under construction: header bytes, then attributes. */
export class NlMsg {
  readonly type: number;
  readonly flags: number;
  #parts: number[] = [];
  #stack: number[] = [];

  constructor(type: number, flags: number, header: Uint8Array) {
    this.type = type;
    this.flags = flags;
    this.#push(header);
  }

  /** Adds a raw attribute. */
  attr(type: number, data: Uint8Array): this {
    const len = 4 + data.length;
    this.#u16(len);
    this.#u16(type);
    this.#push(data);
    this.#pad();
    return this;
  }

  /** Adds a NUL-terminated string attribute. */
  str(type: number, s: string): this {
    return this.attr(type, new TextEncoder().encode(s + "\0"));
  }

  /** Adds a 32-bit attribute (host order). */
  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }

  /** Opens a nested attribute; close it with `end()`. */
  begin(type: number): this {
    this.#stack.push(this.#parts.length);
    this.#u16(0);
    this.#u16(type | NLA_F_NESTED);
    return this;
  }

  /** Adds raw bytes inside the current nest (a family header of a nested message). */
  raw(data: Uint8Array): this {
    this.#push(data);
    this.#pad();
    return this;
  }

  /** Closes the innermost nested attribute. */
  end(): this {
    const at = this.#stack.pop();
    if (at === undefined) throw new RangeError("netlink: end() without begin()");
    const len = this.#parts.length - at;
    this.#parts[at] = len & 0xff;
    this.#parts[at + 1] = len >> 8;
    return this;
  }

  /** The full message with its nlmsghdr. */
  encode(seq: number): Uint8Array {
    if (this.#stack.length) throw new RangeError("netlink: unclosed nested attribute");
    const out = new Uint8Array(16 + this.#parts.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, out.length, true);
    v.setUint16(4, this.type, true);
    v.setUint16(6, this.flags, true);
    v.setUint32(8, seq, true);
    out.set(this.#parts, 16);
    return out;
  }

  #u16(v: number) {
    this.#parts.push(v & 0xff, (v >> 8) & 0xff);
  }
  #push(b: Uint8Array) {
    for (const x of b) this.#parts.push(x);
  }
  #pad() {
    while (this.#parts.length % 4) this.#parts.push(0);
  }
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(
  o: { family?: number; index?: number; flags?: number; change?: number },
): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = o.family ?? AF.UNSPEC;
  v.setInt32(4, o.index ?? 0, true);
  v.setUint32(8, o.flags ?? 0, true);
  v.setUint32(12, o.change ?? 0, true);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(
  o: { family: number; prefixLen: number; index: number; scope?: number },
): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = o.family;
  b[1] = o.prefixLen;
  b[3] = o.scope ?? 0;
  new DataView(b.buffer).setUint32(4, o.index, true);
  return b;
}

/** struct rtmsg (12 bytes) for a unicast route in the main table. */
export function rtmsg(o: { family: number; dstLen: number; scope?: number }): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = o.family;
  b[1] = o.dstLen;
  b[4] = 254; // RT_TABLE_MAIN
  b[5] = 4; // RTPROT_STATIC
  b[6] = o.scope ?? 0; // RT_SCOPE_UNIVERSE
  b[7] = 1; // RTN_UNICAST
  return b;
}

/** One received message: its type, flags, and body after the nlmsghdr. */
export interface NlReply {
  type: number;
  flags: number;
  body: Uint8Array;
}

/** Attributes of a message body after a family header of `headerLen` bytes. */
export function parseAttrs(body: Uint8Array, headerLen: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let o = (headerLen + 3) & ~3; o + 4 <= body.length;) {
    const len = v.getUint16(o, true), type = v.getUint16(o + 2, true) & ~NLA_F_NESTED;
    if (len < 4 || o + len > body.length) break;
    out.set(type, body.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}

/** A NUL-terminated string attribute's text. */
export function attrStr(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const end = a.indexOf(0);
  return new TextDecoder().decode(end < 0 ? a : a.subarray(0, end));
}

/** A 32-bit attribute's value. */
export function attrU32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4
    ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true)
    : undefined;
}

// A buffer whose address stays valid: its own ArrayBuffer, outside the moving JS heap.
function pinned(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/**
 * A NETLINK_ROUTE socket. It belongs to the network namespace it was created in, so a
 * socket made inside a container's namespace (see handoff.ts) configures that namespace.
 */
export class Netlink {
  readonly fd: number;
  #seq = 1;
  #buf = pinned(65536);
  #iov = pinned(16);
  #hdr = pinned(56);

  private constructor(fd: number) {
    this.fd = fd;
    const iv = new DataView(this.#iov.buffer);
    iv.setBigUint64(0, addr(this.#buf), true);
    iv.setBigUint64(8, BigInt(this.#buf.length), true);
  }

  /** A socket in the calling thread's network namespace. */
  static open(): Netlink {
    const fd = check(
      sys(SYS.socket, AF.NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE),
      "open a netlink socket",
    );
    return new Netlink(Number(fd));
  }

  /** Wraps a netlink socket fd received from elsewhere (owned from now on). */
  static fromFd(fd: number): Netlink {
    return new Netlink(fd);
  }

  /** Closes the socket. */
  close(): void {
    sys(SYS.close, this.fd);
  }

  /**
   * Sends the messages in one sendmsg, each with NLM_F_ACK, and waits for every answer.
   * Returns the data replies (dump parts, echoes). The first negative ACK throws a SysError
   * `what[i]: ERRNO`; `ignore` lists errnos that count as success (e.g. EEXIST, ENODEV).
   */
  request(
    msgs: NlMsg | NlMsg[],
    what: string | string[],
    ignore: number[] = [],
  ): NlReply[] {
    const list = Array.isArray(msgs) ? msgs : [msgs];
    const whats = Array.isArray(what) ? what : list.map(() => what);
    const first = this.#seq;
    this.#seq += list.length;
    const encoded = list.map((m, i) => {
      const b = m.encode(first + i);
      new DataView(b.buffer).setUint16(6, m.flags | NLM_F.ACK | NLM_F.REQUEST, true);
      return b;
    });
    const out = pinned(encoded.reduce((s, b) => s + b.length, 0));
    let o = 0;
    for (const b of encoded) out.set(b, o), o += b.length;
    this.#send(out, whats[0]);

    const replies: NlReply[] = [];
    const pending = new Set(list.map((_, i) => first + i));
    let err: SysError | undefined;
    while (pending.size) {
      const n = this.#recv(whats[0]);
      const v = new DataView(this.#buf.buffer, 0, n);
      for (let p = 0; p + 16 <= n;) {
        const len = v.getUint32(p, true), type = v.getUint16(p + 4, true);
        const flags = v.getUint16(p + 6, true), seq = v.getUint32(p + 8, true);
        if (len < 16 || p + len > n) break;
        if (pending.has(seq)) {
          const body = this.#buf.slice(p + 16, p + len);
          if (type === NLMSG_ERROR) {
            // An ACK (errno 0) or a refusal ends the request; a dump ends at NLMSG_DONE.
            const errno = -new DataView(body.buffer).getInt32(0, true);
            pending.delete(seq);
            if (errno !== 0 && !ignore.includes(errno) && !err) {
              err = new SysError(errno, whats[seq - first] ?? whats[0]);
            }
          } else if (type === NLMSG_DONE) {
            pending.delete(seq);
          } else {
            replies.push({ type, flags, body });
          }
        }
        p += (len + 3) & ~3;
      }
    }
    if (err) throw err;
    return replies;
  }

  #send(b: Uint8Array, what: string) {
    const h = new DataView(this.#hdr.buffer);
    this.#hdr.fill(0);
    const iov = pinned(16);
    const iv = new DataView(iov.buffer);
    iv.setBigUint64(0, addr(b), true);
    iv.setBigUint64(8, BigInt(b.length), true);
    h.setBigUint64(16, addr(iov), true);
    h.setBigUint64(24, 1n, true);
    for (;;) {
      const r = sys(SYS.sendmsg, this.fd, addr(this.#hdr), 0);
      if (r === BigInt(-E.EINTR)) continue;
      check(r, `${what}: send to netlink`);
      return;
    }
  }

  #recv(what: string): number {
    const h = new DataView(this.#hdr.buffer);
    this.#hdr.fill(0);
    h.setBigUint64(16, addr(this.#iov), true);
    h.setBigUint64(24, 1n, true);
    for (;;) {
      const r = sys(SYS.recvmsg, this.fd, addr(this.#hdr), 0);
      if (r === BigInt(-E.EINTR)) continue;
      return Number(check(r, `${what}: receive from netlink`));
    }
  }
}
