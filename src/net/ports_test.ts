import { assertEquals, assertRejects, test } from "../../test/harness.ts";
import { parsePublish, PortReservation, portsColumn, portsSettings, publishAll } from "./ports.ts";

test("ports: -p forms in Docker's PortBindings shape", () => {
  assertEquals(parsePublish(["8080:80", "127.0.0.1:5353:53/udp", "9000", "1.2.3.4::22"]), {
    "80/tcp": [{ HostIp: "", HostPort: "8080" }],
    "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
    "9000/tcp": [{ HostIp: "", HostPort: "" }],
    "22/tcp": [{ HostIp: "1.2.3.4", HostPort: "" }],
  });
  assertEquals(parsePublish(["7000-7001:80-81"]), {
    "80/tcp": [{ HostIp: "", HostPort: "7000" }],
    "81/tcp": [{ HostIp: "", HostPort: "7001" }],
  });
});

test("ports: bad -p values are usage errors naming the value", async () => {
  for (const bad of ["80/sctp", "0:80", "a:b", "1:2:3:4", "[::1]:80:80", "8000-8002:80-81"]) {
    await assertRejects(
      () => parsePublish([bad]),
      new RegExp(`"${bad.replace(/[[\]]/g, "\\$&")}"`),
    );
  }
});

test("ports: -P adds every exposed port not bound yet", () => {
  const b = publishAll(["80/tcp", "53/udp", "443"], parsePublish(["8080:80"]));
  assertEquals(Object.keys(b).sort(), ["443/tcp", "53/udp", "80/tcp"]);
  assertEquals(b["80/tcp"], [{ HostIp: "", HostPort: "8080" }]);
  assertEquals(b["53/udp"], [{ HostIp: "", HostPort: "" }]);
});

test("ports: NetworkSettings.Ports lists exposed ports, published or not", () => {
  assertEquals(
    portsSettings(["22/tcp"], [{ proto: "tcp", port: 80, hostIp: "0.0.0.0", hostPort: 8080 }]),
    { "22/tcp": null, "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] },
  );
});

test("ports: a host port in use is a clear error and nothing stays reserved", async () => {
  const a = PortReservation.reserve({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }, "a");
  try {
    const port = a.ports[0].hostPort;
    await assertRejects(
      () =>
        PortReservation.reserve({
          "81/udp": [{ HostIp: "127.0.0.1", HostPort: "" }],
          "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }],
        }, "b"),
      new RegExp(
        `publish 127\\.0\\.0\\.1:${port}/tcp for container b: the host port is already in use`,
      ),
    );
    // UDP of the same number is a different port.
    PortReservation.reserve({ "80/udp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] }, "c")
      .release();
  } finally {
    a.release();
  }
});

test("ports: the ps PORTS column", () => {
  assertEquals(
    portsColumn({
      "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }],
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
      "22/tcp": null,
    }),
    "22/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp",
  );
  assertEquals(portsColumn(undefined), "");
});
