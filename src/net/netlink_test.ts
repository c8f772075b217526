/**
 * rtnetlink and the namespace hand-off on the real kernel: a bridge with an address, a veth
 * pair whose container end is created inside a fresh namespace, configured through the
 * netlink socket that namespace's child passed back. Traffic: a ping from the child to
 * the test's own bridge address. Every link is removed in `finally`.
 */

import {
  CLONE,
  close,
  exitCode,
  kill,
  pipe2,
  Plan,
  readAsync,
  start,
  SYS,
  wait4,
} from "../../ffi/mod.ts";
import { assert, assertEquals, assertRejects, needsRoot, test } from "../../test/harness.ts";
import { needsBusybox } from "../../test/fixtures.ts";
import { addAddress, addressMsg, defaultRouteMsg, routedSubnets } from "./address.ts";
import { NetnsHandoff } from "./handoff.ts";
import { overlaps } from "./ip.ts";
import {
  createBridge,
  createVeth,
  deleteLink,
  getLink,
  linkIndex,
  listLinks,
  upMsg,
} from "./link.ts";
import { ifinfomsg, Netlink, NLM_F, NlMsg, parseAttrs, RTM } from "./netlink.ts";

const skip = needsRoot() || await needsBusybox();

function rand(n: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** A /24 in 10.213.0.0/16 no route on this host covers. */
function freeSubnet(nl: Netlink): number {
  const routed = routedSubnets(nl);
  for (let i = 0; i < 256; i++) {
    const c = (Math.random() * 256) | 0;
    const base = ((10 << 24) | (213 << 16) | (c << 8)) >>> 0;
    if (!routed.some((r) => overlaps(r, { base, prefix: 24 }))) return base;
  }
  throw new Error("no free 10.213.x.0/24 on this host");
}

async function readAll(fd: number): Promise<string> {
  const buf = new Uint8Array(4096);
  let out = "";
  for (let n; (n = await readAsync(fd, buf)) > 0;) {
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  return out;
}

test("netlink: message attributes nest and parse back", () => {
  const m = new NlMsg(RTM.NEWLINK, NLM_F.REQUEST, ifinfomsg({ index: 7 }))
    .str(3, "eth0").begin(18).str(1, "veth").end();
  const b = m.encode(42);
  const v = new DataView(b.buffer);
  assertEquals(v.getUint32(0, true), b.length);
  assertEquals(v.getUint32(8, true), 42);
  const body = b.subarray(16);
  assertEquals(new DataView(body.buffer, body.byteOffset).getInt32(4, true), 7);
  const attrs = parseAttrs(body, 16);
  assertEquals(new TextDecoder().decode(attrs.get(3)!), "eth0\0");
  assertEquals(new TextDecoder().decode(parseAttrs(attrs.get(18)!, 0).get(1)!), "veth\0");
});

test("netlink: a refused request is a SysError naming what was being done", async () => {
  const nl = Netlink.open();
  try {
    await assertRejects(
      () => createVeth(nl, { name: "hk-name-far-too-long", peer: { name: "x" } }),
      /create veth pair hk-name-far-too-long \/ x: E[A-Z]+/,
    );
    deleteLink(nl, `hkq${rand(4)}`); // a missing link is fine to delete
    assertEquals(linkIndex(nl, `hkq${rand(4)}`), null);
    assert(linkIndex(nl, "lo")! > 0, "lo has an index");
  } finally {
    nl.close();
  }
}, { skip: needsRoot() });

test(
  "netlink: veth into a fresh namespace, configured through the handed-over socket",
  async () => {
    const nl = Netlink.open();
    const bridge = `hkt${rand(4)}`, veth = `hkv${rand(4)}`;
    let pid = 0;
    const [outR, outW] = pipe2();
    const h = new NetnsHandoff();
    try {
      const base = freeSubnet(nl);
      const gw = base + 1, ip = base + 2;
      createBridge(nl, bridge, 1400, "hako:test:/nonexistent");
      addAddress(nl, linkIndex(nl, bridge)!, gw, 24);
      assertEquals(getLink(nl, bridge)?.alias, "hako:test:/nonexistent");

      const p = new Plan();
      h.early(p);
      p.syscall(SYS.dup3, [outW, 1, 0], "stdout");
      h.late(p);
      const argv = [
        "/bin/busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route; ping -c1 -W2 $GW >/dev/null && echo pong",
      ];
      p.syscall(
        SYS.execve,
        [
          p.str(argv[0]),
          p.strings(argv),
          p.strings([`GW=${[gw >>> 24, (gw >>> 16) & 255, (gw >>> 8) & 255, gw & 255].join(".")}`]),
        ],
        "exec busybox",
      );
      const s = start(p, { cloneFlags: CLONE.NEWNET });
      pid = s.pid;
      close(outW);
      createVeth(nl, {
        name: veth,
        master: linkIndex(nl, bridge)!,
        mtu: 1400,
        peer: { name: "eth0", nsPid: pid, mac: "02:42:0a:d5:00:02" },
      });
      assertEquals(getLink(nl, veth)?.master, linkIndex(nl, bridge));
      const fd = await h.receive();
      assert(fd !== null, "the child sent its netlink socket");
      const inner = Netlink.fromFd(fd);
      try {
        assertEquals(listLinks(inner).map((l) => l.name).sort(), ["eth0", "lo"]);
        const idx = linkIndex(inner, "eth0")!;
        inner.request(
          [
            upMsg("lo", linkIndex(inner, "lo")!),
            upMsg("eth0", idx),
            addressMsg(idx, ip, 24),
            defaultRouteMsg(gw),
          ],
          ["lo up", "eth0 up", "address", "route"],
        );
        assertEquals(linkIndex(nl, "eth0") === idx && false, false, "eth0 is not on the host");
      } finally {
        inner.close();
      }
      h.release();
      await s.report();
      const out = await readAll(outR);
      const fmt = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
      assert(out.includes(`inet ${fmt(ip)}/24`), out);
      assert(out.includes(`default via ${fmt(gw)} dev eth0`), out);
      assert(out.includes("pong"), out);
      assertEquals(exitCode((await wait4(pid)).status), 0);
      pid = 0;
    } finally {
      h.close();
      close(outR);
      if (pid) {
        try {
          kill(pid, 9);
        } catch { /* gone */ }
        await wait4(pid).catch(() => {});
      }
      deleteLink(nl, veth);
      deleteLink(nl, bridge);
      nl.close();
    }
  },
  { skip },
);

test(
  "handoff: a child that fails before sending gives null, and hako going away stops it",
  async () => {
    // 1. The plan fails before its early steps run: receive() sees end-of-file, no hang.
    {
      const h = new NetnsHandoff();
      const p = new Plan();
      p.syscall(SYS.close, [99999], "fail on purpose");
      h.early(p);
      h.late(p);
      const s = start(p, { cloneFlags: CLONE.NEWNET });
      try {
        assertEquals(await h.receive(), null);
        await assertRejects(() => s.report(), /fail on purpose: EBADF/);
      } finally {
        h.close();
      }
    }
    // 2. hako closes its end without the go-ahead: the child ends instead of exec'ing.
    {
      const h = new NetnsHandoff();
      const p = new Plan();
      h.early(p);
      h.late(p);
      p.syscall(SYS.execve, [p.str("/bin/true"), p.strings(["true"]), p.pointers([])], "exec true");
      const s = start(p, { cloneFlags: CLONE.NEWNET });
      const fd = await h.receive();
      assert(fd !== null);
      close(fd);
      h.release(false);
      await assertRejects(() => s.report(), /hako exited before setting it up\): EAFNOSUPPORT/);
    }
  },
  { skip: needsRoot() },
);
