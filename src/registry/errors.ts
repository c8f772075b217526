/**
 * Errors a registry conversation can end in, on top of the shared ones (NotFoundError for
 * an unknown repository, tag or blob; InvalidDataError for a malformed manifest or a blob
 * that fails verification). Messages quote the registry's own error code and message but
 * never a request header, so a password or token cannot leak into one.
 */

import { HakoError } from "../errors.ts";

/** 401/403: missing, wrong or insufficient credentials. */
export class RegistryAuthError extends HakoError {
  override status = 401;
}

/** The registry could not be reached, kept failing (429/5xx) or cut the connection. */
export class RegistryUnavailableError extends HakoError {
  override status = 502;
}

/** The registry answered with something the client cannot use (unexpected status). */
export class RegistryProtocolError extends HakoError {
  override status = 502;
}

/** One entry of the distribution spec's error body `{"errors":[{code,message,detail}]}`. */
export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

/**
 * Reads a registry error body into one short phrase ("MANIFEST_UNKNOWN: manifest unknown"),
 * or the HTTP status text when the body is not the spec's JSON.
 */
export async function errorSummary(res: Response): Promise<string> {
  let text = "";
  try {
    text = (await res.text()).slice(0, 4096);
  } catch { /* body already gone */ }
  try {
    const body = JSON.parse(text) as { errors?: RegistryErrorEntry[] };
    const errs = (body.errors ?? []).map((e) =>
      [e.code, e.message].filter(Boolean).join(": ").toLowerCase()
    ).filter(Boolean);
    if (errs.length) return errs.join("; ");
  } catch { /* not JSON */ }
  const line = text.split("\n")[0].trim().slice(0, 200);
  return `${res.status} ${res.statusText || ""}`.trim() +
    (line && !line.startsWith("<") ? ` (${line})` : "");
}
