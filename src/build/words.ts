/**
 * Dockerfile words and variables, as BuildKit's shell lexer reads them: words split on
 * whitespace except inside quotes, the escape character (`\` or a parser directive's
 * choice) quoting the next character, single quotes literal, and `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}` expanded from the
 * build's ARG and ENV values (unset variables expand to nothing).
 */

import { InvalidDataError } from "../errors.ts";

/** Looks a variable up; undefined when unset. */
export type Lookup = (name: string) => string | undefined;

/** Splits on unquoted whitespace, keeping quotes and escapes for `expandWord`. */
export function splitWords(s: string, escape = "\\"): string[] {
  const out: string[] = [];
  let cur = "", inWord = false, quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quote) {
      cur += ch;
      if (ch === escape && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (ch === quote) quote = null;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) out.push(cur), cur = "", inWord = false;
      continue;
    }
    inWord = true;
    cur += ch;
    if (ch === escape && i + 1 < s.length) cur += s[++i];
    else if (ch === '"' || ch === "'") quote = ch;
  }
  if (quote) throw new InvalidDataError(`unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Expands variables in one word and removes its quotes and escapes.
 *
 * @example
 * ```ts
 * expandWord('"${A:-x} y"$B', (n) => ({ B: "!" })[n]); // "x y!"
 * ```
 */
export function expandWord(word: string, lookup: Lookup, escape = "\\"): string {
  let out = "";
  let i = 0;
  const dollar = (): string => {
    // at word[i] === "$"
    i++;
    if (word[i] === "{") {
      const end = matchingBrace(word, i);
      const inner = word.slice(i + 1, end);
      i = end + 1;
      const m = NAME.exec(inner);
      if (!m) throw new InvalidDataError(`bad substitution \${${inner}}`);
      const name = m[0], rest = inner.slice(name.length);
      const v = lookup(name);
      if (rest === "") return v ?? "";
      const op = /^(:?[-+?])/.exec(rest)?.[1];
      if (!op) throw new InvalidDataError(`unsupported modifier in \${${inner}}`);
      const arg = expandWord(rest.slice(op.length), lookup, escape);
      const set = op.startsWith(":") ? v !== undefined && v !== "" : v !== undefined;
      if (op.endsWith("-")) return set ? v! : arg;
      if (op.endsWith("+")) return set ? arg : "";
      if (!set) throw new InvalidDataError(`${name}: ${arg || "parameter not set"}`);
      return v!;
    }
    const m = NAME.exec(word.slice(i));
    if (!m) return "$";
    i += m[0].length;
    return lookup(m[0]) ?? "";
  };
  while (i < word.length) {
    const ch = word[i];
    if (ch === escape && i + 1 < word.length) {
      out += word[i + 1];
      i += 2;
    } else if (ch === "'") {
      const end = word.indexOf("'", i + 1);
      if (end < 0) throw new InvalidDataError(`unterminated quote in ${JSON.stringify(word)}`);
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      while (i < word.length && word[i] !== '"') {
        if (word[i] === escape && i + 1 < word.length && '"$`\n'.includes(word[i + 1])) {
          out += word[i + 1];
          i += 2;
        } else if (word[i] === escape && escape === "\\" && word[i + 1] === "\\") {
          out += "\\";
          i += 2;
        } else if (word[i] === "$") out += dollar();
        else out += word[i++];
      }
      if (i >= word.length) {
        throw new InvalidDataError(`unterminated quote in ${JSON.stringify(word)}`);
      }
      i++;
    } else if (ch === "$") out += dollar();
    else out += word[i++];
  }
  return out;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  throw new InvalidDataError(`missing '}' in ${JSON.stringify(s)}`);
}

/** Splits and expands: the words of a shell-form COPY, EXPOSE, VOLUME, … */
export function expandWords(s: string, lookup: Lookup, escape = "\\"): string[] {
  return splitWords(s, escape).map((w) => expandWord(w, lookup, escape));
}

/**
 * Reads `KEY=VALUE …` pairs (ENV, LABEL, ARG), or the legacy `KEY value with spaces` form
 * when `legacy` and the first word has no "=".
 */
export function keyValues(
  s: string,
  lookup: Lookup,
  escape = "\\",
  legacy = true,
): [string, string | undefined][] {
  const words = splitWords(s, escape);
  if (words.length === 0) return [];
  if (legacy && !words[0].includes("=")) {
    const key = expandWord(words[0], lookup, escape);
    if (words.length === 1) return [[key, undefined]];
    const rest = s.trimStart().slice(words[0].length).trim();
    return [[key, expandWord(rest, lookup, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) return [expandWord(w, lookup, escape), undefined];
    return [
      expandWord(w.slice(0, eq), lookup, escape),
      expandWord(w.slice(eq + 1), lookup, escape),
    ];
  });
}
