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
import { resolveUser } from "../engine/user.ts";
import { HakoError, InvalidDataError, NotFoundError } from "../errors.ts";
import { packChanges } from "../image/changeset.ts";
import {
  addEmptyStep,
  addLayer,
  cloneDraft,
  draftFromImage,
  type DraftLayer,
  draftLayerDirs,
  type ImageDraft,
  saveDraft,
  scratchDraft,
} from "../image/draft.ts";
import { storeLayerFromTar } from "../image/layer.ts";
import { tagKey } from "../image/reference.ts";
import { type CacheEntry, cacheGet, cachePut, stateKey, stepKey } from "./cache.ts";
import { applyConfigStep, commandArgv, CONFIG_STEPS } from "./config_steps.ts";
import {
  BuildContext,
  escapesRoot,
  LayerSource,
  matchSources,
  type SourceTree,
} from "./context.ts";
import { copyLayerTar, destPath, planCopy } from "./copy.ts";
import { runStep } from "./container.ts";
import { type Instruction, lineError, parseDockerfile } from "./dockerfile.ts";
import { expandWord, expandWords, keyValues, type Lookup } from "./words.ts";

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

/** Build args Docker predefines (usable without an ARG line, not kept in history). */
const PREDEFINED = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
];

interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  instructions: Instruction[];
  draft?: ImageDraft;
}

interface StageState {
  draft: ImageDraft;
  /** ARGs declared in the stage, with their values (undefined = declared, no value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
}

function envMap(d: ImageDraft): Map<string, string> {
  return new Map((d.config.config?.Env ?? []).map((e) => {
    const i = e.indexOf("=");
    return [i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1)];
  }));
}

/** The image's ENV wins over an ARG of the same name (Docker's rule). */
function stageLookup(s: StageState): Lookup {
  const env = envMap(s.draft);
  return (n) => env.get(n) ?? s.args.get(n);
}

function splitStages(all: Instruction[]): { globalArgs: Instruction[]; stages: Stage[] } {
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

function findStage(stages: Stage[], ref: string, before: number): Stage | undefined {
  const byName = stages.find((s) => s.name === ref.toLowerCase() && s.index < before);
  if (byName) return byName;
  if (/^\d+$/.test(ref) && Number(ref) < before) return stages[Number(ref)];
  return undefined;
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

  // Dry run: config steps, base images and COPY sources, before any work.
  await runStages(true);
  const epoch = sde ?? await ctx.newestMtime(o.dockerfile.path);
  const created = new Date(epoch * 1000).toISOString();
  const reports: StepReport[] = [];
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
  ): Promise<{ cached: boolean; layer?: StepReport["layer"] }> {
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
    if (ins.cmd === "RUN") return await runRun(st, ins, parent, dry);
    if (ins.cmd === "COPY" || ins.cmd === "ADD") return await runCopy(s, st, ins, parent, dry);
    throw err(`${ins.cmd} is not supported`);
  }

  async function runRun(st: StageState, ins: Instruction, parent: string, dry: boolean) {
    const c = st.draft.config.config ?? {};
    const argv = commandArgv(ins, c);
    if (argv.length === 0 || argv.every((a) => a.trim() === "")) {
      throw lineError(ins.file, ins.line, "RUN needs a command");
    }
    if (dry) return { cached: false };
    const env = envMap(st.draft);
    const argEnv: string[] = [];
    for (const [k, v] of st.args) if (v !== undefined && !env.has(k)) argEnv.push(`${k}=${v}`);
    for (const k of PREDEFINED) {
      if (buildArgs[k] !== undefined && !st.args.has(k)) argEnv.push(`${k}=${buildArgs[k]}`);
    }
    const visible = argEnv.filter((e) => !PREDEFINED.includes(e.split("=")[0]));
    const text = `RUN ${visible.length ? `|${visible.length} ${visible.join(" ")} ` : ""}${
      argv.join(" ")
    }`;
    const key = stepKey(parent, text);
    const hit = o.noCache ? null : await cacheGet(root, key);
    if (hit?.layer) {
      addLayer(st.draft, hit.layer, history(hit.created, text));
      return { cached: true, layer: undefined };
    }
    const layer = await runStep(paths, st.draft, {
      argv,
      env: argEnv,
      network: ins.flags.network ?? o.network,
      output: o.output,
      signal: o.signal,
    }, async (code, src) => {
      if (code !== 0) {
        throw new HakoError(
          `${ins.file}:${ins.line}: the command '${
            argv.join(" ")
          }' returned a non-zero code: ${code}`,
        );
      }
      return toDraftLayer(
        await storeLayerFromTar(root, await packChanges(src, { epoch }), {}, { compress: "gzip" }),
      );
    });
    addLayer(st.draft, layer, history(created, text));
    await cachePut(root, key, { layer, created, createdBy: text });
    return { cached: false, layer: report(layer) };
  }

  async function runCopy(
    s: Stage,
    st: StageState,
    ins: Instruction,
    parent: string,
    dry: boolean,
  ) {
    const err = (m: string) => lineError(ins.file, ins.line, m);
    const lookup = stageLookup(st);
    const words = ins.json ?? expandWords(ins.args, lookup, esc);
    if (words.length < 2) throw err(`${ins.cmd} requires at least two arguments: <src>... <dest>`);
    const srcs = words.slice(0, -1), rawDest = words[words.length - 1];
    let tree: SourceTree = ctx;
    let keepOwner = false;
    const from = ins.flags.from !== undefined ? expandWord(ins.flags.from, lookup, esc) : undefined;
    if (from !== undefined) {
      if (ins.cmd === "ADD") throw err("ADD does not support --from; use COPY --from");
      const stage = findStage(stages, from, s.index);
      keepOwner = true;
      if (stage) {
        if (dry) return { cached: false };
        tree = new LayerSource(draftLayerDirs(root, stage.draft!), `stage ${from}`);
      } else {
        let d: ImageDraft;
        try {
          d = await draftFromImage(root, from);
        } catch (e) {
          if (e instanceof NotFoundError) {
            throw err(`COPY --from=${from}: no stage or image of that name in this store`);
          }
          throw e;
        }
        tree = new LayerSource(draftLayerDirs(root, d), `image ${from}`);
      }
    }
    const what = `${ins.file}:${ins.line}: ${ins.cmd}`;
    const sources: { tree: SourceTree; rel: string }[] = [];
    for (const src of srcs) {
      if (ins.cmd === "ADD" && /^(https?|git):\/\/|^git@/.test(src)) {
        throw err(`ADD from a URL is not supported (${src}); download it in a RUN step instead`);
      }
      if (tree === ctx && escapesRoot(src)) {
        throw err(`${ins.cmd} failed: forbidden path outside the build context: ${src}`);
      }
      for (const rel of await matchSources(tree, src, what)) sources.push({ tree, rel });
    }
    let owner: { uid: number; gid: number } | undefined;
    if (ins.flags.chown) {
      const spec = expandWord(ins.flags.chown, lookup, esc);
      const layers = draftLayerDirs(root, st.draft);
      const u = await resolveUser(layers, spec).catch((e) => {
        throw err(`${ins.cmd} --chown=${spec}: ${(e as Error).message}`);
      });
      owner = { uid: u.uid, gid: spec.includes(":") ? u.gid : u.uid };
    }
    let perm: number | undefined;
    if (ins.flags.chmod) {
      if (!/^[0-7]{3,4}$/.test(ins.flags.chmod)) {
        throw err(`invalid --chmod=${ins.flags.chmod}: use octal permission bits such as 755`);
      }
      perm = parseInt(ins.flags.chmod, 8);
    }
    if (dry) return { cached: false };
    const dest = destPath(rawDest, st.draft.config.config?.WorkingDir);
    const flags = Object.entries(ins.flags).filter(([k]) => k !== "link")
      .map(([k, v]) => `--${k}=${v}`);
    const text = [ins.cmd, ...flags, ...srcs, dest].join(" ");
    const plan = await planCopy({
      sources,
      dest,
      owner,
      keepOwner,
      perm,
      extract: ins.cmd === "ADD",
      what,
    }, draftLayerDirs(root, st.draft));
    const key = stepKey(parent, text, plan.digest);
    const hit = o.noCache ? null : await cacheGet(root, key);
    if (hit?.layer) {
      addLayer(st.draft, hit.layer, history(hit.created, text));
      return { cached: true };
    }
    const layer = toDraftLayer(
      await storeLayerFromTar(root, copyLayerTar(plan, epoch), {}, { compress: "gzip" }),
    );
    addLayer(st.draft, layer, history(created, text));
    await cachePut(root, key, { layer, created, createdBy: text } satisfies CacheEntry);
    return { cached: false, layer: report(layer) };
  }
}

function history(created: string, text: string) {
  return { created, created_by: text, comment: "hako build" };
}

function numberOr(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidDataError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not ${v}`);
  }
  return n;
}

type Stored = { diffId: string; digest: string; blobSize: number; mediaType: string; size: number };

function toDraftLayer(l: Stored): DraftLayer & { size: number } {
  return {
    diffId: l.diffId,
    digest: l.digest,
    blobSize: l.blobSize,
    mediaType: l.mediaType,
    size: l.size,
  };
}

function report(l: DraftLayer & { size?: number }) {
  return { diffId: l.diffId, size: l.size ?? 0, blobSize: l.blobSize };
}
