import * as fs from "../../ffi/fs.ts";
import { assert, assertEquals, assertRejects, test } from "../../test/harness.ts";
import type { Paths } from "../engine/paths.ts";
import { chooseNetwork } from "./config.ts";

async function tempPaths(): Promise<Paths> {
  const root = await fs.makeTempDir({ prefix: "hako-netcfg-" });
  return { root, run: `${root}/run`, containers: `${root}/containers`, names: `${root}/names` };
}

const who = {
  name: "web",
  hostname: "abc123",
  imageExposed: ["443/tcp"],
  hostResolv: "nameserver 10.1.1.1\n",
};

test("config: the default bridge with ports, exposed ports and extra hosts", async () => {
  const paths = await tempPaths();
  try {
    const n = await chooseNetwork(paths, {
      publish: ["8080:80"],
      expose: ["9000/udp"],
      addHosts: ["gw:host-gateway"],
      dns: ["10.0.0.53"],
    }, who);
    assertEquals(n.mode, "bridge");
    assert(n.newNamespace, "own namespace");
    assertEquals(Object.keys(n.exposedPorts).sort(), ["443/tcp", "80/tcp", "9000/udp"]);
    assertEquals(n.hostConfig.PortBindings, { "80/tcp": [{ HostIp: "", HostPort: "8080" }] });
    assertEquals(n.resolv, "nameserver 10.0.0.53\n");
    assert(n.hosts.includes("127.0.1.1\tabc123 web\n"), n.hosts);
    assert(n.hosts.includes("\tgw\n"), n.hosts);
    assert("bridge" in n.networks, "listed under its network");
  } finally {
    await fs.remove(paths.root, { recursive: true });
  }
});

test("config: Docker's refusals for network modes", async () => {
  const paths = await tempPaths();
  try {
    await assertRejects(
      () => chooseNetwork(paths, { network: "host", publish: ["80:80"] }, who),
      /conflicting options: port publishing/,
    );
    await assertRejects(
      () => chooseNetwork(paths, { network: "none", publishAll: true }, who),
      /conflicting options/,
    );
    await assertRejects(
      () => chooseNetwork(paths, { networkAliases: ["x"] }, who),
      /aliases are supported only for containers on user-defined networks/,
    );
    await assertRejects(
      () => chooseNetwork(paths, { network: "nosuch" }, who),
      /network nosuch not found/,
    );
    await assertRejects(
      () => chooseNetwork(paths, { expose: ["http"] }, who),
      /invalid port "http"/,
    );
    const host = await chooseNetwork(paths, { network: "host" }, who);
    assert(!host.newNamespace, "host shares the host's namespace");
    assertEquals(host.resolv, who.hostResolv, "host mode keeps the host's resolv.conf");
    const none = await chooseNetwork(paths, { network: "none" }, who);
    assert(none.newNamespace && Object.keys(none.networks).length === 0, "none: lo only");
  } finally {
    await fs.remove(paths.root, { recursive: true });
  }
});
