import { assert, assertEquals } from "../../test/harness.ts";
import { test } from "../../test/harness.ts";
import {
  broadcast,
  contains,
  formatIp,
  formatSubnet,
  macFor,
  overlaps,
  parseIp,
  parseSubnet,
} from "./ip.ts";

test("ip: parse and format addresses and subnets", () => {
  assertEquals(formatIp(parseIp("172.17.0.2")!), "172.17.0.2");
  assertEquals(parseIp("256.1.1.1"), null);
  assertEquals(parseIp("1.2.3"), null);
  const s = parseSubnet("172.18.5.9/16");
  assertEquals(formatSubnet(s), "172.18.0.0/16");
  assertEquals(formatIp(broadcast(s)), "172.18.255.255");
  assert(contains(s, parseIp("172.18.200.1")!));
  assert(!contains(s, parseIp("172.19.0.1")!));
});

test("ip: overlap checks both directions and refuses bad CIDRs", () => {
  assert(overlaps(parseSubnet("10.0.0.0/8"), parseSubnet("10.1.0.0/16")));
  assert(overlaps(parseSubnet("10.1.0.0/16"), parseSubnet("10.0.0.0/8")));
  assert(!overlaps(parseSubnet("192.168.0.0/20"), parseSubnet("192.168.16.0/20")));
  for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/4", "x/16"]) {
    let threw = false;
    try {
      parseSubnet(bad);
    } catch {
      threw = true;
    }
    assert(threw, `${bad} should be refused`);
  }
});

test("ip: Docker's MAC for an address", () => {
  assertEquals(macFor(parseIp("172.17.0.2")!), "02:42:ac:11:00:02");
});
