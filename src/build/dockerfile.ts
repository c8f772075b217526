/**
 * The Dockerfile parser: parser directives (`# escape=`), comments, line continuations,
 * instruction keywords in any case, `--flag=value` options, JSON (exec) and shell forms.
 * Every error names the file and the line, `Dockerfile:7: unknown instruction: RUNN (did
 * you mean RUN?)`, and the whole file is checked before a build starts.
 */

import { InvalidDataError } from "../errors.ts";

/** One instruction as written. */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  cmd: string;
  /** Text after the keyword and its flags, continuations joined. */
  args: string;
  /** `--name=value` options (a bare `--name` is "true"); repeated ones keep the last. */
  flags: Record<string, string>;
  /** The arguments when given in JSON (exec) form. */
  json: string[] | null;
  /** The instruction as written, continuations joined (for history and errors). */
  text: string;
  file: string;
  /** 1-based line of the keyword. */
  line: number;
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  instructions: Instruction[];
  /** The escape character (`\` or `` ` ``). */
  escape: string;
}

const KNOWN = [
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
];

/** Flags each instruction accepts (others are refused with the line named). */
const FLAGS: Record<string, string[]> = {
  FROM: ["platform"],
  COPY: ["from", "chown", "chmod", "link", "parents"],
  ADD: ["chown", "chmod", "link", "checksum", "keep-git-dir"],
  RUN: ["network"],
  HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
};

/** A Dockerfile error at a line. */
export function lineError(file: string, line: number, msg: string): InvalidDataError {
  return new InvalidDataError(`${file}:${line}: ${msg}`);
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

function suggest(word: string): string {
  const best = KNOWN.map((k) => [k, distance(word.toUpperCase(), k)] as const)
    .sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? ` (did you mean ${best[0]}?)` : "";
}

/** Parses `s` as a JSON array of strings, or null when it is not one. */
export function jsonArray(s: string): string[] | null {
  const t = s.trim();
  if (!t.startsWith("[")) return null;
  try {
    const v = JSON.parse(t);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : null;
  } catch {
    return null;
  }
}

function splitFlags(
  rest: string,
  cmd: string,
  err: (m: string) => Error,
): { flags: Record<string, string>; args: string } {
  const flags: Record<string, string> = {};
  let s = rest;
  for (;;) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(s);
    if (!m) break;
    if (!(FLAGS[cmd] ?? []).includes(m[1])) {
      throw err(`${cmd} does not support the flag --${m[1]}`);
    }
    flags[m[1]] = m[2] ?? "true";
    s = s.slice(m[0].length);
  }
  return { flags, args: s.trim() };
}

/**
 * Parses a Dockerfile. Throws InvalidDataError naming `file:line` for a syntax error.
 *
 * @example
 * ```ts
 * const df = parseDockerfile("FROM busybox\nRUN echo hi \\\n  there\n", "Dockerfile");
 * df.instructions[1]; // { cmd: "RUN", args: "echo hi   there", line: 2, ... }
 * ```
 */
export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  let i = 0;
  // Parser directives: only at the very top, before any comment, blank line or instruction.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (seen.has(key)) throw lineError(file, i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") {
        throw lineError(file, i + 1, `invalid escape token '${m[2]}' does not match ` + "` or \\");
      }
      escape = m[2];
    }
  }
  const out: Instruction[] = [];
  while (i < lines.length) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i++;
      continue;
    }
    const start = i + 1;
    // Join continuation lines; comment and blank lines inside a continuation are dropped.
    let joined = "";
    let line = raw.trimStart();
    for (;;) {
      const t = line.replace(/\s+$/, "");
      if (t.endsWith(escape)) {
        joined += t.slice(0, -1);
        i++;
        while (i < lines.length && /^\s*(#.*)?$/.test(lines[i])) i++;
        if (i >= lines.length) break;
        line = lines[i];
        continue;
      }
      joined += line;
      i++;
      break;
    }
    const err = (m: string) => lineError(file, start, m);
    const km = /^(\S+)\s*([\s\S]*)$/.exec(joined.trim());
    if (!km) continue;
    const cmd = km[1].toUpperCase();
    if (!KNOWN.includes(cmd)) throw err(`unknown instruction: ${km[1]}${suggest(km[1])}`);
    const rest = km[2];
    if (/^(RUN|COPY|ADD)$/.test(cmd) && /(^|\s)<<-?["']?[A-Za-z_]/.test(rest)) {
      throw err(`${cmd} with a heredoc (<<) is not supported`);
    }
    const { flags, args } = splitFlags(rest, cmd, err);
    const json = jsonArray(args);
    out.push({ cmd, args, flags, json, text: joined.trim(), file, line: start });
  }
  checkInstructions(out);
  return { instructions: out, escape };
}

/** Argument counts and order rules that need no variable values. */
function checkInstructions(ins: Instruction[]): void {
  let sawFrom = false;
  for (const x of ins) {
    const err = (m: string) => lineError(x.file, x.line, m);
    const words = x.args.split(/\s+/).filter(Boolean);
    if (!sawFrom && x.cmd !== "FROM" && x.cmd !== "ARG") {
      throw err(`${x.cmd} before the first FROM: a Dockerfile must start with FROM (or ARG)`);
    }
    switch (x.cmd) {
      case "FROM":
        sawFrom = true;
        if (words.length !== 1 && !(words.length === 3 && words[1].toUpperCase() === "AS")) {
          throw err("FROM requires either one argument, or three: FROM <image> [AS <name>]");
        }
        if (words.length === 3 && !/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(words[2])) {
          throw err(`invalid stage name "${words[2]}"`);
        }
        break;
      case "COPY":
      case "ADD": {
        const n = x.json ? x.json.length : words.length;
        if (n < 2) throw err(`${x.cmd} requires at least two arguments: <src>... <dest>`);
        break;
      }
      case "RUN":
      case "ENV":
      case "LABEL":
      case "EXPOSE":
      case "VOLUME":
      case "WORKDIR":
      case "USER":
      case "STOPSIGNAL":
      case "ARG":
      case "MAINTAINER":
      case "ONBUILD":
        if (words.length === 0) throw err(`${x.cmd} requires at least one argument`);
        if ((x.cmd === "STOPSIGNAL" || x.cmd === "USER") && words.length !== 1) {
          throw err(`${x.cmd} requires exactly one argument`);
        }
        if (x.cmd === "ENV" && !words[0].includes("=") && words.length < 2) {
          throw err("ENV must have two arguments: ENV <key>=<value> or ENV <key> <value>");
        }
        if (x.cmd === "ONBUILD" && /^(ONBUILD|FROM|MAINTAINER)$/i.test(words[0])) {
          throw err(`${words[0].toUpperCase()} isn't allowed as an ONBUILD trigger`);
        }
        break;
      case "SHELL":
        if (!x.json || x.json.length === 0) {
          throw err(
            'SHELL requires the arguments to be in JSON form: SHELL ["executable", "param"]',
          );
        }
        break;
      case "CMD":
      case "ENTRYPOINT":
        break;
      case "HEALTHCHECK": {
        const kind = (words[0] ?? "").toUpperCase();
        if (kind !== "NONE" && kind !== "CMD") {
          throw err("HEALTHCHECK requires CMD <command> or NONE");
        }
        if (kind === "CMD" && words.length < 2) throw err("HEALTHCHECK CMD requires a command");
        break;
      }
    }
  }
  if (!sawFrom) {
    const x = ins[ins.length - 1];
    throw lineError(x?.file ?? "Dockerfile", x?.line ?? 1, "no FROM instruction: nothing to build");
  }
}
