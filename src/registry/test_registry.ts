/**
 * Test helpers (not part of the API): a real registry (Debian's docker-registry, the CNCF
 * distribution server) on 127.0.0.1 with its storage in a temp dir, optionally with
 * htpasswd auth or behind a bearer-token server written here; and its access log read
 * back, so tests count what crossed the wire by the registry's own account.
 */

import * as fs from "node:fs/promises";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { createSign } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { makeTempDir } from "../../ffi/fs.ts";

/** Where Debian installs the registry. */
export const REGISTRY_BIN = "/usr/bin/docker-registry";

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why registry tests cannot run here, or false. */
export async function needsRegistry(): Promise<string | false> {
  const ok = await fs.access(REGISTRY_BIN).then(() => true, () => false);
  return ok ? false : "needs docker-registry (apt-get install docker-registry)";
}

/** Why htpasswd tests cannot run here, or false. */
export function needsHtpasswd(): string | false {
  return has("htpasswd") ? false : "needs htpasswd (apt-get install apache2-utils)";
}

/** Why token tests cannot run here, or false. */
export function needsOpenssl(): string | false {
  return has("openssl") ? false : "needs openssl (apt-get install openssl)";
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** One line of the registry's access log. */
export interface AccessEntry {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

/** How the registry authenticates. */
export type RegistryAuth =
  | { kind: "none" }
  | { kind: "htpasswd"; users: Record<string, string> }
  | { kind: "token"; users: Record<string, string> };

/** A running docker-registry plus whatever it authenticates against. */
export class TestRegistry {
  #proc: ChildProcess | null = null;
  #token: http.Server | null = null;
  /** Token requests the token server answered. */
  tokenRequests: { scope: string[]; account: string | null }[] = [];

  private constructor(readonly dir: string, readonly port: number) {}

  /** host:port. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The access log file. */
  get logPath(): string {
    return `${this.dir}/registry.log`;
  }

  /** Starts a registry; with `tls`, it serves HTTPS with a cert from a test CA in dir/ca.crt. */
  static async start(
    auth: RegistryAuth = { kind: "none" },
    opts: { tls?: boolean } = {},
  ): Promise<TestRegistry> {
    const dir = await makeTempDir({ prefix: "hako-registry-" });
    const r = new TestRegistry(dir, await freePort());
    try {
      await r.#launch(auth, opts);
    } catch (e) {
      await r.stop();
      throw e;
    }
    return r;
  }

  async #launch(auth: RegistryAuth, opts: { tls?: boolean }) {
    const dir = this.dir;
    let authYaml = "";
    if (auth.kind === "htpasswd") {
      const lines = Object.entries(auth.users).map(([u, p]) =>
        execFileSync("htpasswd", ["-iBn", u], { input: p, encoding: "utf8" }).trim()
      );
      await fs.writeFile(`${dir}/htpasswd`, lines.join("\n") + "\n");
      authYaml = `auth:\n  htpasswd:\n    realm: hako-test\n    path: ${dir}/htpasswd\n`;
    } else if (auth.kind === "token") {
      const tport = await this.#startTokenServer(auth.users);
      authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n` +
        `    service: hako-test\n    issuer: hako-test-issuer\n` +
        `    rootcertbundle: ${dir}/token.crt\n`;
    }
    let tlsYaml = "";
    if (opts.tls) {
      makeCa(dir);
      tlsYaml = `  tls:\n    certificate: ${dir}/server.crt\n    key: ${dir}/server.key\n`;
    }
    const config = `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${this.port}
  secret: hako-test-secret
${tlsYaml}${authYaml}`;
    await fs.writeFile(`${dir}/config.yml`, config);
    const log = await fs.open(this.logPath, "w");
    try {
      this.#proc = spawn(REGISTRY_BIN, ["serve", `${dir}/config.yml`], {
        stdio: ["ignore", log.fd, log.fd],
      });
    } finally {
      await log.close();
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.#proc.exitCode !== null) {
        throw new Error(`docker-registry exited: ${await fs.readFile(this.logPath, "utf8")}`);
      }
      const up = await new Promise<boolean>((res) => {
        const s = net.connect(this.port, "127.0.0.1", () => {
          s.destroy();
          res(true);
        });
        s.on("error", () => res(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error("docker-registry did not start listening");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #startTokenServer(users: Record<string, string>): Promise<number> {
    const dir = this.dir;
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${dir}/token.key`,
      "-out",
      `${dir}/token.crt`,
      "-days",
      "2",
      "-subj",
      "/CN=hako-test-token",
    ], { stdio: "ignore" });
    const key = await fs.readFile(`${dir}/token.key`, "utf8");
    const pem = await fs.readFile(`${dir}/token.crt`, "utf8");
    const der = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const b64u = (b: string | Uint8Array) =>
      Buffer.from(b).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    this.#token = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const scopes = url.searchParams.getAll("scope");
      let account: string | null = null;
      const authz = req.headers.authorization;
      if (authz) {
        const [user, ...rest] = Buffer.from(authz.replace(/^Basic /, ""), "base64").toString()
          .split(":");
        if (users[user] === undefined || users[user] !== rest.join(":")) {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }),
          );
          return;
        }
        account = user;
      }
      this.tokenRequests.push({ scope: scopes, account });
      // Anonymous callers get a token with no access; users get what they ask for.
      const access = account === null ? [] : scopes.map((s) => {
        const [type, ...mid] = s.split(":");
        const actions = mid.pop()!.split(",");
        return { type, name: mid.join(":"), actions };
      });
      const now = Math.floor(Date.now() / 1000);
      const header = b64u(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [der] }));
      const claims = b64u(JSON.stringify({
        iss: "hako-test-issuer",
        sub: account ?? "",
        aud: "hako-test",
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      }));
      const sig = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(key);
      const token = `${header}.${claims}.${b64u(sig)}`;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => this.#token!.listen(0, "127.0.0.1", () => r()));
    return (this.#token.address() as net.AddressInfo).port;
  }

  /** Access-log entries so far (waits for the log to settle first). */
  async accessLog(): Promise<AccessEntry[]> {
    let last = -1;
    for (let i = 0; i < 50; i++) {
      const st = await fs.stat(this.logPath);
      if (st.size === last) break;
      last = st.size;
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = await fs.readFile(this.logPath, "utf8");
    const out: AccessEntry[] = [];
    for (
      const m of text.matchAll(/^\S+ - \S+ \[[^\]]+\] "(\w+) (\S+) HTTP\/[\d.]+" (\d+) (\d+)/gm)
    ) {
      out.push({ method: m[1], path: m[2], status: Number(m[3]), bytes: Number(m[4]) });
    }
    return out;
  }

  /** Stops the registry and the token server and removes the temp dir. */
  async stop(): Promise<void> {
    const p = this.#proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    this.#proc = null;
    if (this.#token) {
      const t = this.#token;
      // deno-lint-ignore no-explicit-any
      (t as any).closeAllConnections?.();
      await new Promise<void>((r) => t.close(() => r()));
      this.#token = null;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** A CA and a server certificate for 127.0.0.1 signed by it (dir/ca.crt, dir/server.*). */
export function makeCa(dir: string): void {
  const o = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
  o([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=hako test CA",
  ]);
  o([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  execFileSync("sh", ["-c", "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf"], {
    cwd: dir,
  });
  o([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
}
