/**
 * `.dockerignore` and COPY wildcards, as moby's patternmatcher reads them: Go
 * `filepath.Match` syntax per path component (`*`, `?`, `[a-z]`, `\` escapes) plus `**` for
 * any number of directories; a leading `!` re-includes; the last matching pattern wins; a
 * pattern that matches a directory excludes everything under it.
 */

import { components } from "../image/layered.ts";

/** One compiled pattern. */
interface Pattern {
  re: RegExp;
  negate: boolean;
  /** The pattern text (cleaned), for deciding whether an exception may lie below a dir. */
  text: string;
}

/** Converts one glob (path components joined by "/") to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i++;
        if (glob[i + 1] === "/") {
          i++;
          re += "(?:.*/)?"; // "**/" : zero or more directories
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < glob.length) {
      re += glob[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(re + "$");
}

/** True when the string has glob metacharacters. */
export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s.replace(/\\./g, ""));
}

/** The rules of one `.dockerignore`. */
export class IgnoreRules {
  readonly patterns: Pattern[];

  constructor(text: string) {
    this.patterns = [];
    for (let line of text.split(/\r?\n/)) {
      line = line.trim();
      if (line === "" || line.startsWith("#")) continue;
      let negate = false;
      if (line.startsWith("!")) negate = true, line = line.slice(1).trim();
      const cleaned = components(line).join("/");
      if (cleaned === "") continue;
      this.patterns.push({ re: globToRegExp(cleaned), negate, text: cleaned });
    }
  }

  /** True when nothing is ignored. */
  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether `rel` (no leading "/") is excluded from the context. */
  ignored(rel: string): boolean {
    if (this.patterns.length === 0) return false;
    const parts = rel.split("/");
    let out = false;
    for (const p of this.patterns) {
      let hit = p.re.test(rel);
      // A pattern that matches a parent directory matches everything below it.
      for (let i = 1; !hit && i < parts.length; i++) hit = p.re.test(parts.slice(0, i).join("/"));
      if (hit) out = !p.negate;
    }
    return out;
  }

  /** Whether an exception (`!pattern`) could re-include something below ignored dir `rel`. */
  mayIncludeBelow(rel: string): boolean {
    return this.patterns.some((p) =>
      p.negate && (p.text.startsWith(rel + "/") || /[*?[]/.test(p.text.split("/")[0]))
    );
  }
}
