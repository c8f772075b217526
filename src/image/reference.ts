/**
 * Image references as Docker writes them: `name[:tag][@sha256:<hex>]`, where the name may
 * start with a registry (`registry:5000/team/app`). Grammar from distribution/reference.
 */

import { UsageError } from "../errors.ts";

/** A parsed image reference. `tag` is "latest" unless a tag or digest was given. */
export interface Reference {
  /** Repository name, including any registry host (`localhost:5000/app`). */
  name: string;
  /** Tag; absent when only a digest was given. */
  tag?: string;
  /** Manifest digest when the reference pins one (`name@sha256:…`). */
  digest?: string;
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function invalid(ref: string, why: string): UsageError {
  return new UsageError(`invalid reference ${JSON.stringify(ref)}: ${why}`);
}

/**
 * Parses an image reference; throws UsageError with a sentence saying what is wrong.
 *
 * @example
 * ```ts
 * parseReference("mybox"); // { name: "mybox", tag: "latest" }
 * parseReference("localhost:5000/app:v1"); // { name: "localhost:5000/app", tag: "v1" }
 * ```
 */
export function parseReference(ref: string): Reference {
  if (ref === "") throw invalid(ref, "empty reference");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(ref, "digest must be sha256: and 64 hex digits");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(
        ref,
        "a tag is up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
      );
    }
  }
  if (rest === "") throw invalid(ref, "missing repository name");
  if (rest.length > 255) throw invalid(ref, "repository name is longer than 255 characters");
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      if (!DOMAIN_RE.test(first)) throw invalid(ref, `invalid registry host ${first}`);
      path = rest.slice(slash + 1);
    }
  }
  if (!PATH_RE.test(path)) {
    if (path.toLowerCase() !== path && PATH_RE.test(path.toLowerCase())) {
      throw invalid(ref, "repository name must be lowercase");
    }
    throw invalid(
      ref,
      "a repository name is lowercase letters and digits separated by '/', '.', '_' or '-'",
    );
  }
  const out: Reference = { name: rest };
  if (tag !== undefined || digest === undefined) out.tag = tag ?? "latest";
  if (digest !== undefined) out.digest = digest;
  return out;
}

/**
 * The key a tag is stored under in repositories.json (`name:tag`).
 * Throws UsageError when the reference carries a digest instead of a tag.
 */
export function tagKey(ref: string | Reference): string {
  const r = typeof ref === "string" ? parseReference(ref) : ref;
  if (r.digest !== undefined || r.tag === undefined) {
    throw new UsageError(`cannot tag with a digest reference ${formatReference(r)}`);
  }
  return `${r.name}:${r.tag}`;
}

/** Writes a reference back in its canonical form. */
export function formatReference(r: Reference): string {
  return r.name + (r.tag !== undefined ? `:${r.tag}` : "") +
    (r.digest !== undefined ? `@${r.digest}` : "");
}
