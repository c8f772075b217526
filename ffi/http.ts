/**
 * HTTP(S) requests with a chosen set of trusted CA certificates. `fetch` itself is the same
 * in Deno and Bun; only how a request is given extra root certificates differs (a
 * `Deno.HttpClient` with `caCerts` in Deno, the `tls.ca` request option in Bun), so that
 * difference lives here and nothing else needs to know which runtime it is on.
 */

// deno-lint-ignore no-explicit-any
const isBun = typeof (globalThis as any).Bun !== "undefined";

/** Options for an HTTP client. */
export interface HttpClientOptions {
  /** PEM certificates to trust as roots (in addition to the runtime's own list). */
  caCerts?: string[];
}

/** A fetch bound to one TLS configuration; `close` releases its connection pool. */
export interface HttpClient {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): void;
}

/**
 * Makes an HTTP client. Plain-HTTP URLs ignore the CA list.
 *
 * @example
 * ```ts
 * const c = createHttpClient({ caCerts: [pem] });
 * const res = await c.fetch("https://registry.example/v2/");
 * c.close();
 * ```
 */
export function createHttpClient(opts: HttpClientOptions = {}): HttpClient {
  const ca = opts.caCerts?.length ? opts.caCerts : undefined;
  if (isBun) {
    return {
      // Bun takes the roots per request; Bun keeps its connection pool regardless.
      fetch: (url, init) =>
        fetch(url, url.startsWith("https:") && ca ? { ...init, tls: { ca } } as RequestInit : init),
      close: () => {},
    };
  }
  let client: Deno.HttpClient | undefined;
  return {
    fetch: (url, init) => {
      if (!url.startsWith("https:") || !ca) return fetch(url, init);
      client ??= Deno.createHttpClient({ caCerts: ca });
      return fetch(url, { ...init, client } as RequestInit);
    },
    close: () => {
      client?.close();
      client = undefined;
    },
  };
}
