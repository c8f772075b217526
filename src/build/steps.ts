/**
 * The build steps that make layers: RUN (in a throwaway container, container.ts) and
 * COPY/ADD (straight from the files, copy.ts), each looked up in the build cache first.
 */

import type { Paths } from "../engine/paths.ts";
import { resolveUser } from "../engine/user.ts";
import { HakoError, NotFoundError } from "../errors.ts";
import { packChanges } from "../image/changeset.ts";
import {
  addLayer,
  draftFromImage,
  type DraftLayer,
  draftLayerDirs,
  type ImageDraft,
} from "../image/draft.ts";
import { storeLayerFromTar } from "../image/layer.ts";
import { type CacheEntry, cacheGet, cachePut, stepKey } from "./cache.ts";
import { commandArgv } from "./config_steps.ts";
import {
  type BuildContext,
  escapesRoot,
  LayerSource,
  matchSources,
  type SourceTree,
} from "./context.ts";
import { runStep } from "./container.ts";
import { copyLayerTar, destPath, planCopy } from "./copy.ts";
import { type Instruction, lineError } from "./dockerfile.ts";
import { envMap, findStage, type Stage, stageLookup, type StageState } from "./stages.ts";
import { expandWord, expandWords } from "./words.ts";
import type { BuildOptions, StepReport } from "./builder.ts";

/** Build args Docker predefines (usable without an ARG line, not kept in history). */
export const PREDEFINED = [
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

/** What every step of one build shares. */
export interface BuildEnv {
  paths: Paths;
  o: BuildOptions;
  ctx: BuildContext;
  stages: Stage[];
  buildArgs: Record<string, string>;
  esc: string;
  /** The source date (seconds) layer mtimes are clamped to. */
  epoch: number;
  /** The source date as the history's `created`. */
  created: string;
}

/** What a step did: reused from the cache or not, and the layer it made. */
export interface StepOutcome {
  cached: boolean;
  layer?: StepReport["layer"];
}

/** A history entry of a build step. */
export function history(created: string, text: string) {
  return { created, created_by: text, comment: "hako build" };
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

/** RUN: the command in a container on the current image; its changes become a layer. */
export async function runRun(
  b: BuildEnv,
  st: StageState,
  ins: Instruction,
  parent: string,
  dry: boolean,
): Promise<StepOutcome> {
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
    if (b.buildArgs[k] !== undefined && !st.args.has(k)) argEnv.push(`${k}=${b.buildArgs[k]}`);
  }
  const visible = argEnv.filter((e) => !PREDEFINED.includes(e.split("=")[0]));
  const text = `RUN ${visible.length ? `|${visible.length} ${visible.join(" ")} ` : ""}${
    argv.join(" ")
  }`;
  const key = stepKey(parent, text);
  const hit = b.o.noCache ? null : await cacheGet(b.paths.root, key);
  if (hit?.layer) {
    addLayer(st.draft, hit.layer, history(hit.created, text));
    return { cached: true, layer: undefined };
  }
  const layer = await runStep(b.paths, st.draft, {
    argv,
    env: argEnv,
    network: ins.flags.network ?? b.o.network,
    output: b.o.output,
    signal: b.o.signal,
  }, async (code, src) => {
    if (code !== 0) {
      throw new HakoError(
        `${ins.file}:${ins.line}: the command '${
          argv.join(" ")
        }' returned a non-zero code: ${code}`,
      );
    }
    return toDraftLayer(
      await storeLayerFromTar(b.paths.root, await packChanges(src, { epoch: b.epoch }), {}, {
        compress: "gzip",
      }),
    );
  });
  addLayer(st.draft, layer, history(b.created, text));
  await cachePut(b.paths.root, key, { layer, created: b.created, createdBy: text });
  return { cached: false, layer: report(layer) };
}

/** COPY and ADD: a layer made straight from the files. */
export async function runCopy(
  b: BuildEnv,
  s: Stage,
  st: StageState,
  ins: Instruction,
  parent: string,
  dry: boolean,
): Promise<StepOutcome> {
  const err = (m: string) => lineError(ins.file, ins.line, m);
  const lookup = stageLookup(st);
  const words = ins.json ?? expandWords(ins.args, lookup, b.esc);
  if (words.length < 2) throw err(`${ins.cmd} requires at least two arguments: <src>... <dest>`);
  const srcs = words.slice(0, -1), rawDest = words[words.length - 1];
  let tree: SourceTree = b.ctx;
  let keepOwner = false;
  const from = ins.flags.from !== undefined ? expandWord(ins.flags.from, lookup, b.esc) : undefined;
  if (from !== undefined) {
    if (ins.cmd === "ADD") throw err("ADD does not support --from; use COPY --from");
    const stage = findStage(b.stages, from, s.index);
    keepOwner = true;
    if (stage) {
      if (dry) return { cached: false };
      tree = new LayerSource(draftLayerDirs(b.paths.root, stage.draft!), `stage ${from}`);
    } else {
      let d: ImageDraft;
      try {
        d = await draftFromImage(b.paths.root, from);
      } catch (e) {
        if (e instanceof NotFoundError) {
          throw err(`COPY --from=${from}: no stage or image of that name in this store`);
        }
        throw e;
      }
      tree = new LayerSource(draftLayerDirs(b.paths.root, d), `image ${from}`);
    }
  }
  const what = `${ins.file}:${ins.line}: ${ins.cmd}`;
  const sources: { tree: SourceTree; rel: string }[] = [];
  for (const src of srcs) {
    if (ins.cmd === "ADD" && /^(https?|git):\/\/|^git@/.test(src)) {
      throw err(`ADD from a URL is not supported (${src}); download it in a RUN step instead`);
    }
    if (tree === b.ctx && escapesRoot(src)) {
      throw err(`${ins.cmd} failed: forbidden path outside the build context: ${src}`);
    }
    for (const rel of await matchSources(tree, src, what)) sources.push({ tree, rel });
  }
  let owner: { uid: number; gid: number } | undefined;
  if (ins.flags.chown) {
    const spec = expandWord(ins.flags.chown, lookup, b.esc);
    const layers = draftLayerDirs(b.paths.root, st.draft);
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
  }, draftLayerDirs(b.paths.root, st.draft));
  const key = stepKey(parent, text, plan.digest);
  const hit = b.o.noCache ? null : await cacheGet(b.paths.root, key);
  if (hit?.layer) {
    addLayer(st.draft, hit.layer, history(hit.created, text));
    return { cached: true };
  }
  const layer = toDraftLayer(
    await storeLayerFromTar(b.paths.root, copyLayerTar(plan, b.epoch), {}, { compress: "gzip" }),
  );
  addLayer(st.draft, layer, history(b.created, text));
  await cachePut(
    b.paths.root,
    key,
    { layer, created: b.created, createdBy: text } satisfies CacheEntry,
  );
  return { cached: false, layer: report(layer) };
}
