import { assert, assertEquals, needsRoot, test } from "../../test/harness.ts";
import { findProgram, runCommand } from "./command.ts";
import { parseIp, parseSubnet } from "./ip.ts";
import { Iptables, type NatState, Nftables } from "./nat.ts";

const state: NatState = {
  networks: [
    { bridge: "hk-test0", subnet: parseSubnet("172.30.0.0/16") },
    { bridge: "hk-test1", subnet: parseSubnet("192.168.240.0/20"), internal: true },
  ],
  ports: [
    { hostIp: "", hostPort: 8080, proto: "tcp", ip: parseIp("172.30.0.2")!, port: 80 },
    { hostIp: "127.0.0.1", hostPort: 5353, proto: "udp", ip: parseIp("172.30.0.2")!, port: 53 },
  ],
};

test("nat: the nft script rebuilds the store's table atomically", () => {
  const s = new Nftables("/usr/sbin/nft", "hako_t").script(state);
  assert(s.startsWith("add table ip hako_t\ndelete table ip hako_t\ntable ip hako_t {"), s);
  assertEquals(s.split("\n").filter((l) => l.includes("dnat to 172.30.0.2:80")).length, 2, s);
  assert(
    s.includes("fib daddr type local ip daddr 127.0.0.1 udp dport 5353 dnat to 172.30.0.2:53"),
    s,
  );
  assert(s.includes(`ip saddr 172.30.0.0/16 oifname != "hk-test0" masquerade`), s);
  assert(!s.includes(`ip saddr 192.168.240.0/20 oifname != "hk-test1"`), "internal: no egress");
  assert(s.includes(`ip saddr 127.0.0.0/8 oifname "hk-test1" masquerade`), s);
});

test("nat: the iptables-restore input uses the store's own chains", () => {
  const s = new Iptables("/usr/sbin/iptables", "/usr/sbin/iptables-restore", "HAKO-T").script(
    state,
  );
  assert(s.startsWith("*nat\n:HAKO-T-PRE - [0:0]\n"), s);
  assert(
    s.includes(
      "-A HAKO-T-OUT -m addrtype --dst-type LOCAL -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.30.0.2:53",
    ),
    s,
  );
  assert(s.includes("-A HAKO-T-POST -s 172.30.0.0/16 ! -o hk-test0 -j MASQUERADE"), s);
  assert(s.trimEnd().endsWith("COMMIT"), s);
});

const nft = await findProgram("nft");

test("nat: nft applies, replaces and removes a table of its own", async () => {
  const table = `hako_test_${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
  const b = new Nftables(nft!, table);
  try {
    await b.apply(state);
    let listed = (await runCommand([nft!, "list", "table", "ip", table])).stdout;
    assertEquals(listed.split("\n").filter((l) => l.includes("dnat")).length, 4, listed);
    await b.apply({ ...state, ports: [] });
    listed = (await runCommand([nft!, "list", "table", "ip", table])).stdout;
    assertEquals(listed.split("\n").filter((l) => l.includes("dnat")).length, 0, listed);
    assert(listed.includes("masquerade"), listed);
  } finally {
    await b.remove();
  }
  const r = await runCommand([nft!, "list", "table", "ip", table]);
  assert(r.code !== 0, "the table is gone");
}, { skip: needsRoot() || (!nft && "needs nft (apt-get install nftables)") });

const ipt = await findProgram("iptables"), iptRestore = await findProgram("iptables-restore");

test("nat: iptables applies, replaces and removes chains of its own", async () => {
  const prefix = `HAKO-T${
    crypto.getRandomValues(new Uint32Array(1))[0].toString(16).toUpperCase()
  }`;
  const b = new Iptables(ipt!, iptRestore!, prefix);
  const rules = async () =>
    (await runCommand([ipt!, "-w", "-t", "nat", "-S"])).stdout.split("\n").filter((l) =>
      l.includes(prefix)
    );
  try {
    await b.apply(state);
    await b.apply(state); // idempotent: the hooks are not added twice
    const r = await rules();
    assertEquals(r.filter((l) => l.includes("DNAT")).length, 4, r.join("\n"));
    assertEquals(r.filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING) /.test(l)).length, 3);
    await b.apply({ ...state, ports: [] });
    assertEquals((await rules()).filter((l) => l.includes("DNAT")).length, 0);
  } finally {
    await b.remove();
  }
  assertEquals(await rules(), []);
}, {
  skip: needsRoot() ||
    (!(ipt && iptRestore) && "needs iptables and iptables-restore (apt-get install iptables)"),
});
