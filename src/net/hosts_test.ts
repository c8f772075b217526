import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import { endpointHosts, hostsText, parseAddHosts } from "./hosts.ts";
import type { Endpoint } from "./ipam.ts";
import { resolvConf } from "./resolv.ts";

const ep = (name: string, ip: string, aliases: string[] = []): Endpoint => ({
  EndpointID: "e",
  Container: name.padEnd(64, "0"),
  Name: name,
  Hostname: `${name}-host`,
  Aliases: aliases,
  IP: ip,
  Prefix: 16,
  Gateway: "172.18.0.1",
  Mac: "02:42:ac:12:00:02",
  Veth: "hkx",
  Ports: [],
  Pid: 0,
  StartTicks: 0,
  HostsPath: "/nonexistent",
  ExtraHosts: ["gw:host-gateway", "db.local:10.1.2.3"],
});

test("hosts: own address and names, --add-host, peers by name and alias", () => {
  const self = ep("web", "172.18.0.3");
  const text = endpointHosts(self, [self, ep("db", "172.18.0.2", ["database"])]);
  const lines = text.trim().split("\n");
  assertEquals(lines[0], "127.0.0.1\tlocalhost");
  assert(lines.includes("172.18.0.1\tgw"), text);
  assert(lines.includes("10.1.2.3\tdb.local"), text);
  assert(lines.includes("172.18.0.3\tweb-host web"), text);
  assert(lines.includes(`172.18.0.2\tdb database db-host ${"db".padEnd(12, "0")}`), text);
  assertEquals(lines.filter((l) => l.includes("web")).length, 1, "self listed once");
});

test("hosts: no network yet gives the 127.0.1.1 line; bad --add-host refused", async () => {
  assert(hostsText({ names: ["h", "n"] }).includes("127.0.1.1\th n\n"));
  await assertRejects(() => parseAddHosts(["nocolon"]), /--add-host/);
  await assertRejects(() => parseAddHosts(["x:notanip"]), /--add-host/);
});

test("resolv: a loopback resolver is replaced, --dns wins, host mode keeps the file", async () => {
  const host = "search corp\nnameserver 127.0.0.53\noptions edns0\n";
  const r = await resolvConf({}, host);
  assert(!r.includes("127.0.0.53"), r);
  assert(r.includes("search corp") && r.includes("options edns0"), r);
  assert(/nameserver \d/.test(r), r);
  assertEquals(
    await resolvConf({ dns: ["10.0.0.1"], dnsSearch: ["a.b"] }, host),
    "options edns0\nsearch a.b\nnameserver 10.0.0.1\n",
  );
  assertEquals(await resolvConf({ hostNetwork: true }, host), host);
  assertEquals(await resolvConf({}, "nameserver 10.9.9.9\n"), "nameserver 10.9.9.9\n");
});
