/**
 * Registry authentication as the distribution spec and Docker Hub do it: the registry
 * answers 401 with a `WWW-Authenticate` challenge; `Basic` means send the credential on
 * every request, `Bearer realm=…,service=…,scope=…` means ask the realm (a token server)
 * for a token that grants those scopes — with the credential if there is one, anonymously
 * otherwise — and send that. Tokens are cached per scope set until shortly before they
 * expire, so a pull asks the token server once, not once per blob.
 */

import { type Credential } from "./credentials.ts";
import { errorSummary, RegistryAuthError, RegistryProtocolError } from "./errors.ts";

/** One challenge of a WWW-Authenticate header. */
export interface Challenge {
  /** Lowercased scheme: "basic" or "bearer" (others are reported, not answered). */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235: schemes followed by comma-separated
 * `key=value` / `key="quoted value"` parameters; several challenges may share a header).
 *
 * @example
 * ```ts
 * parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"');
 * // [{scheme: "bearer", params: {realm: "https://auth.docker.io/token", service: "registry.docker.io"}}]
 * ```
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && !' \t,="'.includes(header[i])) i++;
    return header.slice(start, i);
  };
  let cur: Challenge | null = null;
  while (i < n) {
    skipWs();
    if (i >= n) break;
    const word = token();
    if (!word) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && (header[j] === " " || header[j] === "\t")) j++;
    if (header[j] === "=" && cur) {
      i = j + 1;
      while (i < n && (header[i] === " " || header[i] === "\t")) i++;
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i++];
        }
        i++;
      } else value = token();
      cur.params[word.toLowerCase()] = value;
    } else {
      cur = { scheme: word.toLowerCase(), params: {} };
      out.push(cur);
    }
  }
  return out;
}

/** Sends a request without registry auth (the token server is a different endpoint). */
export type Sender = (url: string, init: RequestInit) => Promise<Response>;

interface CachedToken {
  header: string;
  expires: number;
}

/** Answers a registry's challenges for one registry, caching bearer tokens by scope. */
export class Authorizer {
  #challenge: Challenge | null = null;
  #tokens = new Map<string, CachedToken>();
  /** Token requests made (for tests and the closing report). */
  tokenRequests = 0;

  constructor(
    readonly registry: string,
    readonly credential: Credential | undefined,
    readonly send: Sender,
  ) {}

  /** The scheme the registry asked for, or null when it needs no auth. */
  get scheme(): string | null {
    return this.#challenge?.scheme ?? null;
  }

  /** Records the challenge of a 401 (from the /v2/ ping or any request). */
  setChallenge(res: Response): void {
    const header = res.headers.get("www-authenticate") ?? "";
    const list = parseChallenges(header);
    this.#challenge = list.find((c) => c.scheme === "bearer") ??
      list.find((c) => c.scheme === "basic") ?? list[0] ?? { scheme: "unknown", params: {} };
  }

  /** The Authorization header for a request needing `scopes`, or undefined. */
  async header(scopes: string[]): Promise<string | undefined> {
    const c = this.#challenge;
    if (!c) return undefined;
    if (c.scheme === "basic") return this.#basic();
    if (c.scheme !== "bearer") return undefined;
    const key = [...new Set(scopes)].sort().join(" ");
    const hit = this.#tokens.get(key);
    if (hit && hit.expires > Date.now()) return hit.header;
    const t = await this.#fetchToken(c.params, [...new Set(scopes)].sort());
    this.#tokens.set(key, t);
    return t.header;
  }

  /**
   * Handles a 401 to a request that needed `scopes`: takes the new challenge, forgets the
   * token that failed and says whether one retry can succeed (false: nothing would change).
   */
  async unauthorized(res: Response, scopes: string[], sentHeader: string | undefined) {
    this.setChallenge(res);
    await res.body?.cancel().catch(() => {});
    const c = this.#challenge!;
    if (c.scheme === "basic") return sentHeader === undefined && this.#basic() !== undefined;
    if (c.scheme !== "bearer") return false;
    this.#tokens.delete([...new Set(scopes)].sort().join(" "));
    return true;
  }

  #basic(): string | undefined {
    const c = this.credential;
    if (!c || c.password === undefined) return undefined;
    const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
    return `Basic ${btoa(String.fromCharCode(...bytes))}`;
  }

  async #fetchToken(params: Record<string, string>, scopes: string[]): Promise<CachedToken> {
    const realm = params.realm;
    if (!realm || !/^https?:\/\//.test(realm)) {
      throw new RegistryProtocolError(
        `registry ${this.registry} asked for a bearer token without a usable realm`,
      );
    }
    this.tokenRequests++;
    const cred = this.credential;
    let res: Response;
    if (cred?.identityToken) {
      // OAuth2 refresh-token grant, as Docker uses for an identity token.
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: cred.identityToken,
        client_id: "hako",
      });
      if (params.service) form.set("service", params.service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      res = await this.send(realm, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    } else {
      const url = new URL(realm);
      if (params.service) url.searchParams.set("service", params.service);
      for (const s of scopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      const basic = this.#basic();
      if (basic) {
        headers.authorization = basic;
        url.searchParams.set("account", cred!.username);
      }
      res = await this.send(url.toString(), { method: "GET", headers });
    }
    if (!res.ok) {
      const why = await errorSummary(res);
      throw new RegistryAuthError(
        res.status === 401 || res.status === 403
          ? `authentication to ${this.registry} failed: ${
            cred ? "incorrect username or password" : "the token server refused anonymous access"
          } (${why})`
          : `token server for ${this.registry} answered ${why}`,
      );
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = await res.json();
    } catch {
      throw new RegistryProtocolError(`token server for ${this.registry} sent invalid JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryProtocolError(`token server for ${this.registry} sent no token`);
    // The spec's default lifetime is 60 s; renew a little early so a request never races it.
    const life = Math.max(10, Number(body.expires_in) || 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now();
    return { header: `Bearer ${token}`, expires: start + life * 0.9 };
  }
}
