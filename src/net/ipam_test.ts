import * as fs from "../../ffi/fs.ts";
import { close } from "../../ffi/mod.ts";
import { assert, assertEquals, test } from "../../test/harness.ts";
import type { Paths } from "../engine/paths.ts";
import { formatIp, parseSubnet } from "./ip.ts";
import { allocate, type Endpoint, type Lease, leases, sweep } from "./ipam.ts";

async function tempPaths(): Promise<Paths> {
  const root = await fs.makeTempDir({ prefix: "hako-ipam-" });
  return { root, run: `${root}/run`, containers: `${root}/containers`, names: `${root}/names` };
}

const endpoint = (ip: string, pid: number): Endpoint => ({
  EndpointID: "e",
  Container: "c".repeat(64),
  Name: "c",
  Hostname: "c",
  Aliases: [],
  IP: ip,
  Prefix: 24,
  Gateway: "10.9.0.1",
  Mac: "",
  Veth: "",
  Ports: [],
  Pid: pid,
  StartTicks: 1,
  HostsPath: "/nonexistent",
  ExtraHosts: [],
});

test("ipam: concurrent allocations never share an address; the subnet runs out cleanly", async () => {
  const paths = await tempPaths();
  const held: Lease[] = [];
  try {
    const s = parseSubnet("10.9.0.0/24"), gw = s.base + 1;
    const got = await Promise.all(Array.from({ length: 100 }, () => allocate(paths, "n1", s, gw)));
    for (const l of got) held.push(l!);
    const ips = got.map((l) => l!.ip);
    assertEquals(new Set(ips).size, 100, "all distinct");
    assert(!ips.includes(gw) && !ips.includes(s.base) && !ips.includes(s.base + 255), "reserved");
    const small = parseSubnet("10.9.1.0/29"); // .1 gateway, .2-.6 usable, .7 broadcast
    for (let i = 0; i < 5; i++) held.push((await allocate(paths, "n2", small, small.base + 1))!);
    assertEquals(await allocate(paths, "n2", small, small.base + 1), null);
  } finally {
    for (const l of held) l.release();
    await fs.remove(paths.root, { recursive: true });
  }
});

test("ipam: round-robin does not hand a just-freed address straight back", async () => {
  const paths = await tempPaths();
  try {
    const s = parseSubnet("10.9.2.0/24");
    const a = (await allocate(paths, "n", s, s.base + 1))!;
    const first = a.ip;
    a.release();
    const b = (await allocate(paths, "n", s, s.base + 1))!;
    assert(b.ip !== first, `${formatIp(b.ip)} reused at once`);
    b.release();
  } finally {
    await fs.remove(paths.root, { recursive: true });
  }
});

test("ipam: a lease whose holder died is swept, a held one is not", async () => {
  const paths = await tempPaths();
  try {
    const s = parseSubnet("10.9.3.0/24");
    const live = (await allocate(paths, "n", s, s.base + 1))!;
    live.write(endpoint(formatIp(live.ip), 0));
    const dead = (await allocate(paths, "n", s, s.base + 1))!;
    dead.write(endpoint(formatIp(dead.ip), 0x7ffffff0)); // no such process
    close(dead.fd); // the launcher "dies": its lock goes, the file stays
    const before = await leases(paths, "n");
    assertEquals(before.map((l) => l.held).sort(), [false, true]);
    const seen: string[] = [];
    const gone = await sweep(paths, "n", (ep) => void seen.push(ep.IP));
    assertEquals(gone.map((e) => e.IP), [formatIp(dead.ip)]);
    assertEquals(seen, [formatIp(dead.ip)]);
    assertEquals((await leases(paths, "n")).length, 1);
    live.release();
    assertEquals((await leases(paths, "n")).length, 0);
  } finally {
    await fs.remove(paths.root, { recursive: true });
  }
});
