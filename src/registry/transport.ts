/**
 * One registry's HTTP side: which scheme it speaks (HTTPS, or HTTP for loopback and
 * registries marked insecure, found by pinging `/v2/`), authentication, redirects and
 * retries. Everything above it asks for `request(method, path)` and gets the final
 * response.
 *
 * - Redirects are followed here, not by fetch, so the registry's Authorization header is
 *   dropped when a blob redirect leaves the registry's origin (to blob storage).
 * - 429 and 5xx answers and connection failures are retried with exponential backoff (and
 *   the server's Retry-After); bodies are byte arrays, so every retry resends them whole.
 */

import { createHttpClient, type HttpClient } from "../../ffi/http.ts";
import { Authorizer } from "./auth.ts";
import { allowsHttp, trustedCerts } from "./config.ts";
import type { Credential } from "./credentials.ts";
import {
  errorSummary,
  RegistryAuthError,
  RegistryProtocolError,
  RegistryUnavailableError,
} from "./errors.ts";
import { apiHost, isLoopback } from "./reference.ts";

/** Options shared by every registry operation. */
export interface TransportOptions {
  /** Registries (host[:port]) that may be spoken to over plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Credential to answer challenges with; anonymous when absent. */
  credential?: Credential;
  /** hako config dir (certs.d); default from config.ts. */
  configDir?: string;
  /** Attempts after the first for retryable failures (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry (default 500). */
  retryBaseMs?: number;
}

/** One request. */
export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Token scopes the request needs (`repository:name:pull`). */
  scopes?: string[];
  /** False for a request that must not be sent twice (a PATCH of upload data). */
  retry?: boolean;
}

const USER_AGENT = "hako/0.1.0";

/** Why a fetch failed, as one phrase without the URL's query string. */
export function networkReason(e: unknown): string {
  const err = e as Error & { code?: string; cause?: Error & { code?: string } };
  const parts = [err?.message, err?.cause?.message].filter(Boolean) as string[];
  let s = parts.join(": ") || String(e);
  s = s.replace(/\?[^\s)]*/g, "");
  if (err?.code && !s.includes(err.code)) s += ` (${err.code})`;
  return s;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The schemes to try, in order: HTTPS only, unless the registry is loopback (HTTP first:
 * nothing leaves the machine, and it spares a TLS handshake against the usual plain local
 * registry) or marked insecure (HTTPS first, then HTTP).
 */
export function schemesFor(registry: string, insecure: readonly string[]): string[] {
  if (isLoopback(registry)) return ["http", "https"];
  return allowsHttp(registry, insecure) ? ["https", "http"] : ["https"];
}

/** The HTTP conversation with one registry. */
export class Transport {
  #base: string | null = null;
  #http: HttpClient | null = null;
  /** Whether #http was made with the CA certificates (an HTTP-only client need not read them). */
  #trusting = false;
  readonly auth: Authorizer;
  readonly retries: number;
  readonly retryBaseMs: number;
  /** Requests made, by method, for tests and measurements. */
  readonly counts: Record<string, number> = {};

  private constructor(readonly registry: string, readonly opts: TransportOptions) {
    this.retries = opts.retries ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.auth = new Authorizer(
      registry,
      opts.credential,
      (url, init) =>
        this.#withRetries(
          `token request to ${url.replace(/\?.*/, "")}`,
          () => this.#raw(url, init),
        ),
    );
  }

  /**
   * Pings `/v2/` to learn the scheme and the auth challenge; throws
   * RegistryUnavailableError when the registry cannot be reached.
   */
  static async connect(registry: string, opts: TransportOptions = {}): Promise<Transport> {
    const t = new Transport(registry, opts);
    try {
      await t.#ping();
    } catch (e) {
      t.close();
      throw e;
    }
    return t;
  }

  /** The base URL (`https://host:port`) once connected. */
  get base(): string {
    return this.#base!;
  }

  async #ping(): Promise<void> {
    const host = apiHost(this.registry);
    const schemes = schemesFor(this.registry, this.opts.insecureRegistries ?? []);
    const errors: string[] = [];
    let notRegistry = false;
    for (const [i, scheme] of schemes.entries()) {
      if (scheme === "https" && !this.#trusting) {
        this.#http?.close();
        this.#trusting = true;
        this.#http = createHttpClient({
          caCerts: await trustedCerts(this.registry, this.opts.configDir),
        });
      }
      const url = `${scheme}://${host}/v2/`;
      let res: Response;
      try {
        // A wrong scheme fails at once; only the last scheme tried is retried.
        const last = i === schemes.length - 1;
        res = await this.#withRetries(`GET ${url}`, () => this.#raw(url, { method: "GET" }), last);
      } catch (e) {
        errors.push(`${scheme}: ${(e as Error).message}`);
        continue;
      }
      if (res.status === 401 || res.ok) {
        this.#base = `${scheme}://${host}`;
        if (res.status === 401) this.auth.setChallenge(res);
        await res.body?.cancel().catch(() => {});
        return;
      }
      // HTTP to a TLS port answers 400; keep the answer and try the next scheme.
      notRegistry ||= res.status === 404;
      errors.push(`${scheme}: GET /v2/ answered ${await errorSummary(res)}`);
    }
    if (notRegistry) {
      throw new RegistryProtocolError(
        `${this.registry} does not serve the registry API (${errors.join("; ")})`,
      );
    }
    throw new RegistryUnavailableError(
      `cannot reach registry ${this.registry}: ${errors.join("; ")}` +
        (schemes.length === 1
          ? ` (plain HTTP is used only for loopback or --insecure-registry ${this.registry})`
          : ""),
    );
  }

  /** A fetch with no registry auth (token server, redirect targets). */
  #raw(url: string, init: RequestInit): Promise<Response> {
    const method = init.method ?? "GET";
    this.counts[method] = (this.counts[method] ?? 0) + 1;
    const headers = new Headers(init.headers);
    headers.set("user-agent", USER_AGENT);
    const req: RequestInit = { ...init, headers, redirect: "manual" };
    if (!this.#http) this.#http = createHttpClient();
    return this.#http.fetch(url, req);
  }

  /** Runs `send`, retrying connection failures, 429 and 5xx with backoff. */
  async #withRetries(
    what: string,
    send: () => Promise<Response>,
    retry = true,
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const last = !retry || attempt >= this.retries;
      let res: Response;
      try {
        res = await send();
      } catch (e) {
        if (last) {
          throw new RegistryUnavailableError(`${what}: ${networkReason(e)}`, { cause: e });
        }
        await sleep(this.#delay(attempt, null));
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && !last) {
        await res.body?.cancel().catch(() => {});
        await sleep(this.#delay(attempt, res.headers.get("retry-after")));
        continue;
      }
      return res;
    }
  }

  #delay(attempt: number, retryAfter: string | null): number {
    const s = retryAfter !== null ? Number(retryAfter) : NaN;
    if (Number.isFinite(s) && s >= 0) return Math.min(s * 1000, 60_000);
    const d = this.retryBaseMs * 2 ** attempt;
    return Math.min(d + Math.random() * d * 0.2, 30_000);
  }

  /** The absolute URL of a path (`/v2/...`) or of a Location the registry gave. */
  url(pathOrUrl: string): string {
    return new URL(pathOrUrl, this.base + "/").toString();
  }

  /**
   * Sends one request to the registry with auth, redirects and retries, and returns the
   * final response (any status; callers decide). A 401 that new credentials cannot fix
   * is RegistryAuthError.
   */
  async request(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<Response> {
    const scopes = opts.scopes ?? [];
    const url = this.url(pathOrUrl);
    const what = `${method} ${url.replace(/\?.*/, "")}`;
    for (let authTries = 0;; authTries++) {
      const authz = await this.auth.header(scopes);
      const res = await this.#withRetries(
        what,
        () => this.#follow(method, url, opts, authz),
        opts.retry !== false,
      );
      if (res.status === 401 && new URL(res.url || url).origin === new URL(this.base).origin) {
        if (authTries === 0 && await this.auth.unauthorized(res, scopes, authz)) continue;
        throw new RegistryAuthError(
          `${what}: ${
            this.opts.credential
              ? "unauthorized: the registry refused the stored credentials"
              : `unauthorized: authentication required (hako login ${this.registry})`
          }`,
        );
      }
      if (res.status === 403) {
        throw new RegistryAuthError(`${what}: denied: ${await errorSummary(res)}`);
      }
      return res;
    }
  }

  /** Sends and follows up to 10 redirects; Authorization stays on the registry's origin. */
  async #follow(
    method: string,
    url: string,
    opts: RequestOptions,
    authz: string | undefined,
  ): Promise<Response> {
    const origin = new URL(this.base).origin;
    for (let hop = 0; hop <= 10; hop++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (authz && new URL(url).origin === origin) headers.authorization = authz;
      const res = await this.#raw(url, {
        method,
        headers,
        body: opts.body as BodyInit | undefined,
      });
      if (res.status < 300 || res.status >= 400 || res.status === 304) {
        if (!res.url) Object.defineProperty(res, "url", { value: url });
        return res;
      }
      const loc = res.headers.get("location");
      await res.body?.cancel().catch(() => {});
      if (!loc) return res;
      url = new URL(loc, url).toString();
      if (res.status === 303) method = method === "HEAD" ? "HEAD" : "GET";
    }
    throw new RegistryProtocolError(`${method} ${url.replace(/\?.*/, "")}: too many redirects`);
  }

  /** Releases the connection pool. */
  close(): void {
    this.#http?.close();
    this.#http = null;
  }
}
