/**
 * `hako build`: runs a Dockerfile against a context, step by step, reusing cached steps.
 *
 * - Stages: `FROM image|scratch|<stage> [AS name]`; only the target stage and the stages it
 *   needs (FROM or COPY --from) are built.
 * - The whole Dockerfile is checked first (syntax, base images, COPY sources inside the
 *   context) by a dry run of the config steps, so a typo or a bad path fails before any work.
 * - RUN runs in a throwaway container (container.ts); COPY/ADD build their layer directly
 *   from the files (copy.ts). Each step's layer is stored at once; the image is indexed
 *   only at the end, so an interrupted or failed build leaves no partial image (finished
 *   steps stay as build cache).
 * - Reproducible: layer mtimes are clamped to the build's source date and every history
 *   entry and the image's `created` are that date: SOURCE_DATE_EPOCH (build arg or
 *   environment) when given, else the newest mtime among the Dockerfile and the context.
 *   The same Dockerfile and context give the same layers and the same image ID.
 */

import { env as hostEnv } from "../../ffi/host.ts";
import type { Paths } from "../engine/paths.ts";
import { HakoError, InvalidDataError, NotFoundError } from "../errors.ts";
import {
  addEmptyStep,
  cloneDraft,
  draftFromImage,
  type ImageDraft,
  saveDraft,
  scratchDraft,
} from "../image/draft.ts";
import { tagKey } from "../image/reference.ts";
import { cacheGet, cachePut, stateKey, stepKey } from "./cache.ts";
import { applyConfigStep, CONFIG_STEPS } from "./config_steps.ts";
import { BuildContext } from "./context.ts";
import { type Instruction, lineError, parseDockerfile } from "./dockerfile.ts";
import { findStage, splitStages, type Stage, stageLookup, type StageState } from "./stages.ts";
import { type BuildEnv, history, PREDEFINED, runCopy, runRun, type StepOutcome } from "./steps.ts";
import { expandWord, keyValues, type Lookup } from "./words.ts";

/** What to build. */
export interface BuildOptions {
  /** The context directory. */
  context: string;
  /** Dockerfile text and the name errors use for it. */
  dockerfile: { text: string; name: string; path?: string };
  tags?: string[];
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  /** The stage to build (default: the last). */
  target?: string;
  /** Labels added to the final image. */
  labels?: Record<string, string>;
  /** `--network` for RUN steps. */
  network?: string;
  /** SOURCE_DATE_EPOCH in seconds (overrides the build arg and the environment). */
  sourceDateEpoch?: number;
  /** Progress lines ("Step 2/5 : COPY . /app", " ---> CACHED", …), each ending in "\n". */
  progress?: (line: string) => void;
  /** RUN steps' output as it comes. */
  output?: (chunk: Uint8Array, stream: "stdout" | "stderr") => void;
  /** Aborts the build (the running step's container is killed). */
  signal?: AbortSignal;
}

/** What happened to one step. */
export interface StepReport {
  step: number;
  text: string;
  cached: boolean;
  /** The layer the step added, if any. */
  layer?: { diffId: string; size: number; blobSize: number };
}

/** The built image. */
export interface BuildResult {
  id: string;
  tags: string[];
  steps: StepReport[];
}

/** Builds an image; see the module comment. */
export async function build(paths: Paths, o: BuildOptions): Promise<BuildResult> {
  const root = paths.root;
  const say = o.progress ?? (() => {});
  const df = parseDockerfile(o.dockerfile.text, o.dockerfile.name);
  const esc = df.escape;
  const tags = (o.tags ?? []).map((t) => tagKey(t));
  const ctx = await BuildContext.open(o.context);
  const buildArgs = { ...(o.buildArgs ?? {}) };
  const usedArgs = new Set<string>();
  const { globalArgs, stages } = splitStages(df.instructions);

  // Global ARGs (before the first FROM) are visible to FROM lines.
  const globals = new Map<string, string | undefined>();
  for (const ins of globalArgs) {
    for (const [k, v] of keyValues(ins.args, (n) => globals.get(n), esc, false)) {
      usedArgs.add(k);
      globals.set(k, buildArgs[k] ?? v);
    }
  }
  const globalLookup: Lookup = (n) => globals.get(n);
  for (const s of stages) {
    const w = s.from.args.split(/\s+/);
    s.from = { ...s.from, args: expandWord(w[0], globalLookup, esc) };
  }

  let target = stages[stages.length - 1];
  if (o.target !== undefined) {
    const t = stages.find((s) => s.name === o.target!.toLowerCase());
    if (!t) throw new NotFoundError(`target stage "${o.target}" could not be found`);
    target = t;
  }
  // The stages the target needs, through FROM <stage> and COPY --from=<stage>.
  const needed = new Set<number>();
  const need = (s: Stage) => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    const base = findStage(stages, s.from.args, s.index);
    if (base) need(base);
    for (const ins of s.instructions) {
      const from = ins.flags.from;
      if (ins.cmd === "COPY" && from) {
        const dep = findStage(stages, expandWord(from, globalLookup, esc), s.index);
        if (dep) need(dep);
        else if (stages.some((x) => x.name === from.toLowerCase())) {
          throw lineError(ins.file, ins.line, `COPY --from=${from} refers to a later stage`);
        }
      }
    }
  };
  need(target);
  const order = stages.filter((s) => needed.has(s.index));
  const total = order.reduce((n, s) => n + 1 + s.instructions.length, 0);

  // Source date: reproducible times for layers and history.
  const sde = o.sourceDateEpoch ?? numberOr(buildArgs.SOURCE_DATE_EPOCH) ??
    numberOr(hostEnv("SOURCE_DATE_EPOCH"));
  if (buildArgs.SOURCE_DATE_EPOCH !== undefined) usedArgs.add("SOURCE_DATE_EPOCH");

  const epoch = sde ?? await ctx.newestMtime(o.dockerfile.path);
  const created = new Date(epoch * 1000).toISOString();
  const env = (): BuildEnv => ({ paths, o, ctx, stages, buildArgs, esc, epoch, created });
  const reports: StepReport[] = [];
  // Dry run: config steps, base images and COPY sources, before any work.
  await runStages(true);
  const final = await runStages(false);

  const unused = Object.keys(buildArgs).filter((k) => !usedArgs.has(k) && !PREDEFINED.includes(k));
  if (unused.length) {
    say(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed\n`);
  }
  if (o.labels && Object.keys(o.labels).length) {
    const c = (final.config.config ??= {});
    c.Labels = { ...(c.Labels ?? {}), ...o.labels };
  }
  const times = (final.config.history ?? []).map((h) => h.created ?? "").filter(Boolean).sort();
  const { id } = await saveDraft(root, final, tags, times[times.length - 1] ?? created);
  say(`Successfully built ${id.slice(7, 19)}\n`);
  for (const t of tags) say(`Successfully tagged ${t}\n`);
  return { id, tags, steps: reports };

  async function runStages(dry: boolean): Promise<ImageDraft> {
    let step = 0;
    let last: ImageDraft | null = null;
    for (const s of order) {
      const err = (m: string) => lineError(s.from.file, s.from.line, m);
      step++;
      if (!dry) say(`Step ${step}/${total} : ${s.from.text}\n`);
      const base = findStage(stages, s.from.args, s.index);
      let draft: ImageDraft;
      if (base) draft = cloneDraft(base.draft!);
      else if (s.from.args.toLowerCase() === "scratch") draft = scratchDraft();
      else {
        try {
          draft = await draftFromImage(root, s.from.args);
        } catch (e) {
          if (e instanceof NotFoundError) {
            throw err(
              `FROM ${s.from.args}: no such image in this store (import, load or pull it first)`,
            );
          }
          throw e;
        }
      }
      if (!dry) {
        const what = base
          ? `stage ${base.name ?? base.index}`
          : draft.baseId?.slice(7, 19) ?? "scratch";
        say(` ---> ${what}\n`);
        reports.push({ step, text: s.from.text, cached: true });
        if (draft.config.config?.OnBuild && (draft.config.config.OnBuild as string[]).length) {
          say(`[Warning] the base image's ONBUILD triggers are not run\n`);
        }
      }
      const st: StageState = { draft, args: new Map(), cmdSet: false };
      for (const ins of s.instructions) {
        step++;
        if (o.signal?.aborted) throw new HakoError("build interrupted");
        if (!dry) say(`Step ${step}/${total} : ${ins.text}\n`);
        const r = await runInstruction(s, st, ins, dry);
        if (!dry) {
          reports.push({ step, text: ins.text, cached: r.cached, layer: r.layer });
          if (r.cached) say(" ---> CACHED\n");
          if (r.layer) {
            say(` ---> layer ${r.layer.diffId.slice(7, 19)} (${r.layer.size} bytes)\n`);
          }
        }
      }
      s.draft = st.draft;
      last = st.draft;
    }
    return last!;
  }

  async function runInstruction(
    s: Stage,
    st: StageState,
    ins: Instruction,
    dry: boolean,
  ): Promise<StepOutcome> {
    const err = (m: string) => lineError(ins.file, ins.line, m);
    const lookup = stageLookup(st);
    const parent = stateKey(st.draft);
    if (ins.cmd === "ARG") {
      for (const [k, v] of keyValues(ins.args, lookup, esc, false)) {
        usedArgs.add(k);
        const value = buildArgs[k] ?? v ?? (globals.has(k) ? globals.get(k) : undefined);
        st.args.set(k, value);
      }
      return { cached: false };
    }
    if (CONFIG_STEPS.has(ins.cmd)) {
      const ctxState = { lookup, escape: esc, cmdSet: st.cmdSet };
      const next = cloneDraft(st.draft);
      let text: string;
      try {
        text = applyConfigStep(ins, next.config, ctxState);
      } catch (e) {
        if (e instanceof InvalidDataError && !e.message.startsWith(ins.file)) {
          throw err(e.message);
        }
        throw e;
      }
      st.cmdSet = ctxState.cmdSet ?? st.cmdSet;
      if (dry) {
        st.draft = next;
        return { cached: false };
      }
      const key = stepKey(parent, text);
      const hit = o.noCache ? null : await cacheGet(root, key);
      addEmptyStep(next, history(hit?.created ?? created, text));
      st.draft = next;
      if (!hit) await cachePut(root, key, { layer: null, created, createdBy: text });
      return { cached: !!hit };
    }
    if (ins.cmd === "RUN") return await runRun(env(), st, ins, parent, dry);
    if (ins.cmd === "COPY" || ins.cmd === "ADD") {
      return await runCopy(env(), s, st, ins, parent, dry);
    }
    throw err(`${ins.cmd} is not supported`);
  }
}

function numberOr(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidDataError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not ${v}`);
  }
  return n;
}
