/**
 * `hako commit`: a container's changes become one new layer on top of its image, with the
 * container's command, environment, working directory, user and labels as the new image's
 * config (and any `--change` instructions applied), like `docker commit`. The container
 * and its image are left as they are.
 */

import type { Paths } from "../engine/paths.ts";
import { packChanges } from "../image/changeset.ts";
import { addLayer, draftFromImage, saveDraft } from "../image/draft.ts";
import { storeLayerFromTar } from "../image/layer.ts";
import { tagKey } from "../image/reference.ts";
import { applyChanges } from "./config_steps.ts";
import { containerSource } from "./container.ts";

/** Options of `hako commit`. */
export interface CommitOptions {
  /** `name[:tag]` for the new image. */
  tag?: string;
  message?: string;
  author?: string;
  /** Dockerfile config instructions (`CMD ["x"]`, `ENV A=1`, …). */
  changes?: string[];
}

/**
 * Commits a container (by name or id); returns the new image ID.
 *
 * @example
 * ```ts
 * const id = await commitContainer(paths, "web", { tag: "webapp:debug" });
 * ```
 */
export async function commitContainer(
  paths: Paths,
  ref: string,
  o: CommitOptions = {},
): Promise<string> {
  const tags = o.tag ? [tagKey(o.tag)] : [];
  const { container: c, source } = await containerSource(paths, ref);
  const draft = await draftFromImage(paths.root, c.Image);
  const base = draft.config.config ?? {};
  const baseEnv = new Set((base.Env ?? []).map((e) => e.split("=")[0]));
  // The record's Env holds what create added for the run (HOSTNAME, HOME, TERM); an image
  // keeps only what it had and what -e set.
  const env = c.Config.Env.filter((e) => {
    const k = e.split("=")[0];
    if (k === "HOSTNAME") return false;
    if ((k === "HOME" || k === "TERM") && !baseEnv.has(k)) return false;
    return true;
  });
  const config = { ...base, Env: env };
  config.Cmd = c.Config.Cmd ?? null;
  config.Entrypoint = c.Config.Entrypoint ?? null;
  if (c.Config.WorkingDir && !(c.Config.WorkingDir === "/" && !base.WorkingDir)) {
    config.WorkingDir = c.Config.WorkingDir;
  }
  if (c.Config.User) config.User = c.Config.User;
  if (Object.keys(c.Config.Labels ?? {}).length) {
    config.Labels = { ...(base.Labels ?? {}), ...c.Config.Labels };
  }
  draft.config.config = config;
  if (o.changes?.length) await applyChanges(draft.config, o.changes);
  if (o.author) draft.config.author = o.author;
  const layer = await storeLayerFromTar(paths.root, await packChanges(source), {}, {
    compress: "gzip",
  });
  const created = new Date().toISOString();
  addLayer(draft, layer, {
    created,
    created_by: [c.Path, ...c.Args].join(" "),
    ...(o.author ? { author: o.author } : {}),
    ...(o.message ? { comment: o.message } : {}),
  });
  const { id } = await saveDraft(paths.root, draft, tags, created);
  return id;
}
