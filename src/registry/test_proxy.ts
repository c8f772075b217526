/**
 * Test helper (not part of the API): an HTTP proxy in front of a test registry that counts
 * what passes and can misbehave on cue — answer with a status, corrupt one byte of a
 * body, cut the connection part-way, or redirect a blob GET to a separate "blob storage"
 * server (which records whether an Authorization header followed the redirect).
 */

import * as http from "node:http";
import type * as net from "node:net";

/** What the proxy does with one request. */
export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string> }
  | { kind: "corrupt"; at: number }
  | { kind: "cut"; after: number }
  | { kind: "redirect" }
  | { kind: "replace"; body: string; contentType: string }
  /** Forward the request, then drop the connection instead of answering. */
  | { kind: "drop" };

/** One request seen by the proxy. */
export interface Seen {
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  range?: string;
  authorization: boolean;
}

async function listen(srv: http.Server): Promise<number> {
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return (srv.address() as net.AddressInfo).port;
}

async function readBody(req: http.IncomingMessage): Promise<Uint8Array | undefined> {
  const parts: Uint8Array[] = [];
  for await (const c of req) parts.push(c as Uint8Array);
  if (!parts.length) return undefined;
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** A misbehaving, counting proxy. */
export class FaultProxy {
  seen: Seen[] = [];
  /** Requests the blob-storage server got, and whether they carried Authorization. */
  blobStore: { path: string; authorization: boolean }[] = [];
  /** Decides a fault per request (`n` counts earlier requests with the same method+path). */
  fault: (method: string, path: string, n: number) => Fault | undefined = () => undefined;
  /** Authorization the blob-storage server uses to fetch from the registry. */
  storeAuth: string | undefined;
  #srv: http.Server;
  #store: http.Server;
  #counts = new Map<string, number>();
  port = 0;
  storePort = 0;

  private constructor(readonly upstream: string) {
    this.#srv = http.createServer((req, res) => {
      this.#handle(req, res).catch((e) => {
        res.writeHead(502);
        res.end(String(e));
      });
    });
    this.#store = http.createServer((req, res) => {
      this.#serveStore(req, res).catch(() => res.destroy());
    });
  }

  /** Starts a proxy for the registry at `upstream` (`127.0.0.1:PORT`). */
  static async start(upstream: string): Promise<FaultProxy> {
    const p = new FaultProxy(upstream);
    p.port = await listen(p.#srv);
    p.storePort = await listen(p.#store);
    return p;
  }

  /** host:port of the proxy. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Body bytes sent for GETs of blobs (all, or of one digest). */
  blobBytes(digest?: string): number {
    return this.seen.filter((s) =>
      s.method === "GET" && s.path.includes("/blobs/sha256:") &&
      (!digest || s.path.includes(digest))
    ).reduce((n, s) => n + s.bytes, 0);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const key = `${method} ${path.replace(/\?.*/, "")}`;
    const n = this.#counts.get(key) ?? 0;
    this.#counts.set(key, n + 1);
    const fault = this.fault(method, path, n);
    const entry: Seen = {
      method,
      path,
      status: 0,
      bytes: 0,
      range: req.headers.range as string | undefined,
      authorization: !!req.headers.authorization,
    };
    this.seen.push(entry);
    if (fault?.kind === "status") {
      await readBody(req);
      entry.status = fault.status;
      res.writeHead(fault.status, fault.headers ?? {});
      res.end();
      return;
    }
    if (fault?.kind === "replace") {
      entry.status = 200;
      res.writeHead(200, { "content-type": fault.contentType });
      res.end(fault.body);
      return;
    }
    if (fault?.kind === "redirect") {
      entry.status = 307;
      res.writeHead(307, {
        location: `http://127.0.0.1:${this.storePort}/storage${path}?signature=abc`,
      });
      res.end();
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (k === "host" || k === "connection" || v === undefined) continue;
      headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    }
    const body = method === "GET" || method === "HEAD" ? undefined : await readBody(req);
    const up = await fetch(`http://${this.upstream}${path}`, {
      method,
      headers,
      body: body as BodyInit | undefined,
      redirect: "manual",
    });
    entry.status = up.status;
    if (fault?.kind === "drop") {
      await up.body?.cancel();
      entry.status = 0;
      res.socket?.destroy();
      return;
    }
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      out[k] = k === "location" ? v.replace(this.upstream, this.host) : v;
    });
    delete out["content-encoding"];
    delete out["transfer-encoding"];
    res.writeHead(up.status, out);
    if (!up.body || method === "HEAD") {
      await up.body?.cancel();
      res.end();
      return;
    }
    for await (const c0 of up.body) {
      let c = c0;
      if (
        fault?.kind === "corrupt" && fault.at >= entry.bytes && fault.at < entry.bytes + c.length
      ) {
        c = c.slice();
        c[fault.at - entry.bytes] ^= 0xff;
      }
      if (fault?.kind === "cut" && entry.bytes + c.length > fault.after) {
        const keep = fault.after - entry.bytes;
        if (keep > 0) res.write(c.subarray(0, keep));
        entry.bytes += Math.max(keep, 0);
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        await up.body.cancel().catch(() => {});
        return;
      }
      entry.bytes += c.length;
      if (!res.write(c)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  }

  async #serveStore(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? "/").replace(/^\/storage/, "").replace(/\?.*/, "");
    this.blobStore.push({ path, authorization: !!req.headers.authorization });
    // Blob storage serves the bytes itself; here it asks the registry (anonymous setups).
    const up = await fetch(`http://${this.upstream}${path}`, {
      headers: this.storeAuth ? { authorization: this.storeAuth } : {},
    });
    res.writeHead(up.status, { "content-type": "application/octet-stream" });
    res.end(new Uint8Array(await up.arrayBuffer()));
  }

  /** Stops both servers. */
  async stop(): Promise<void> {
    for (const s of [this.#srv, this.#store]) {
      // deno-lint-ignore no-explicit-any
      (s as any).closeAllConnections?.();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}
