/**
 * Stages of a multi-stage Dockerfile: splitting the instructions at each FROM, finding a
 * stage by name or index, and the variables a stage's instructions see.
 */

import type { ImageDraft } from "../image/draft.ts";
import type { Instruction } from "./dockerfile.ts";
import type { Lookup } from "./words.ts";

/** One FROM and what follows it. */
export interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  instructions: Instruction[];
  draft?: ImageDraft;
}

/** What a stage has so far while it is built. */
export interface StageState {
  draft: ImageDraft;
  /** ARGs declared in the stage, with their values (undefined = declared, no value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
}

/** An image draft's ENV as a map. */
export function envMap(d: ImageDraft): Map<string, string> {
  return new Map((d.config.config?.Env ?? []).map((e) => {
    const i = e.indexOf("=");
    return [i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1)];
  }));
}

/** The image's ENV wins over an ARG of the same name (Docker's rule). */
export function stageLookup(s: StageState): Lookup {
  const env = envMap(s.draft);
  return (n) => env.get(n) ?? s.args.get(n);
}

/** Global ARGs (before the first FROM) and the stages. */
export function splitStages(all: Instruction[]): { globalArgs: Instruction[]; stages: Stage[] } {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of all) {
    if (ins.cmd === "FROM") {
      const w = ins.args.split(/\s+/);
      stages.push({
        index: stages.length,
        name: w.length === 3 ? w[2].toLowerCase() : undefined,
        from: ins,
        instructions: [],
      });
    } else if (stages.length === 0) globalArgs.push(ins);
    else stages[stages.length - 1].instructions.push(ins);
  }
  return { globalArgs, stages };
}

/** The stage a FROM or COPY --from names (by name or index), if it comes before `before`. */
export function findStage(stages: Stage[], ref: string, before: number): Stage | undefined {
  const byName = stages.find((s) => s.name === ref.toLowerCase() && s.index < before);
  if (byName) return byName;
  if (/^\d+$/.test(ref) && Number(ref) < before) return stages[Number(ref)];
  return undefined;
}
