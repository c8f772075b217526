/**
 * exec: `/bin/true` run inside an already running container, with `hako exec`,
 * `crun exec`, `runc exec`, `podman exec` and `docker exec`.
 *
 * @module
 */

import { IMAGE } from "./fixture.ts";
import { attempt, bundle, docker, failed, hako, podman } from "./engines.ts";
import type { Context, Group, GroupResult } from "./group.ts";
import { missing } from "./peers.ts";
import { runCommand } from "./proc.ts";
import { addRatios, type Case, measure } from "./runner.ts";

const IDLE = ["/bin/sleep", "86400"];
const TRUE = ["/bin/true"];

/** Removal commands for this group's containers, run when the group ends. */
const removals: string[][] = [];

/** Registers a removal for the end of the group (and for the bench's teardown, on interrupt). */
function undo(ctx: Context, what: string, argv: string[]): void {
  removals.push(argv);
  ctx.defer(what, async () => {
    await runCommand(argv, { timeoutMs: 60_000 });
  });
}

async function hakoCase(ctx: Context): Promise<Case> {
  const base: Case = {
    id: "hako",
    label: "hako exec",
    kind: "hako",
    argv: ["hako", "exec", "bench-exec", ...TRUE],
  };
  const h = await attempt(() => hako(ctx));
  if (typeof h === "string") return { ...base, skip: h };
  if (!h.bin) return { ...base, skip: h.binMissing };
  const argv = [...h.bin, "exec", "bench-exec", ...TRUE];
  if (!h.commands.has("exec")) {
    return { ...base, argv, skip: "not available in this build (hako --help lists no exec)" };
  }
  undo(ctx, "remove the hako exec container", [...h.bin, "rm", "-f", "bench-exec"]);
  const why = await failed([
    ...h.bin,
    "run",
    "-d",
    "--name",
    "bench-exec",
    "--network",
    "none",
    IMAGE,
    ...IDLE,
  ]);
  return { ...base, argv, skip: why ?? undefined };
}

async function ociCase(ctx: Context, rt: "crun" | "runc"): Promise<Case> {
  const path = ctx.peers.byId[rt].path ?? rt;
  const state = `${ctx.work}/${rt}-state`;
  const id = `bench-${rt}-exec`;
  const c: Case = {
    id: rt,
    label: `${rt} exec`,
    kind: "container",
    argv: [path, "--root", state, "exec", id, ...TRUE],
    note: "into a container started with `" + rt + " run -d` from an OCI bundle on the same rootfs",
  };
  const gone = missing(ctx.peers, rt);
  if (gone) return { ...c, skip: gone };
  try {
    await bundle(ctx, "bundle-idle", IDLE);
  } catch (e) {
    return { ...c, skip: (e as Error).message };
  }
  undo(ctx, `remove the ${rt} exec container`, [path, "--root", state, "delete", "-f", id]);
  const why = await failed([
    path,
    "--root",
    state,
    "run",
    "-d",
    "-b",
    `${ctx.work}/bundle-idle`,
    id,
  ]);
  return { ...c, skip: why ?? undefined };
}

async function podmanCase(ctx: Context): Promise<Case> {
  const c: Case = {
    id: "podman",
    label: "podman exec",
    kind: "container",
    argv: ["podman", "exec", "bench-exec", ...TRUE],
  };
  const gone = missing(ctx.peers, "podman");
  if (gone) return { ...c, skip: gone };
  const p = await attempt(() => podman(ctx));
  if (typeof p === "string") return { ...c, skip: p };
  undo(ctx, "remove the podman exec container", [...p.base, "rm", "-f", "-t", "0", "bench-exec"]);
  const why = await failed([
    ...p.base,
    "run",
    "-d",
    "--name",
    "bench-exec",
    "--network",
    "none",
    ...p.runFlags,
    IMAGE,
    ...IDLE,
  ]);
  return {
    ...c,
    argv: [...p.base, "exec", "bench-exec", ...TRUE],
    note: p.note,
    skip: why ?? undefined,
  };
}

async function dockerCase(ctx: Context): Promise<Case> {
  const c: Case = {
    id: "docker",
    label: "docker exec",
    kind: "container",
    argv: ["docker", "exec", "bench-exec", ...TRUE],
  };
  const gone = missing(ctx.peers, "dockerd", "docker");
  if (gone) return { ...c, skip: gone };
  const d = await attempt(() => docker(ctx));
  if (typeof d === "string") return { ...c, skip: d };
  undo(ctx, "remove the docker exec container", [...d.docker, "rm", "-f", "bench-exec"]);
  const why = await failed([
    ...d.docker,
    "run",
    "-d",
    "--name",
    "bench-exec",
    "--network",
    "none",
    IMAGE,
    ...IDLE,
  ]);
  return { ...c, argv: [...d.docker, "exec", "bench-exec", ...TRUE], skip: why ?? undefined };
}

/** The exec group. */
export const exec: Group = {
  name: "exec",
  title: "Exec: /bin/true inside a running container",
  summary: "hako exec vs crun, runc, podman and docker exec",
  defaultRuns: 20,
  peers: ["hako", "crun", "runc", "podman", "dockerd", "docker"],
  async run(ctx: Context): Promise<GroupResult> {
    let rows;
    try {
      const cases = [
        await hakoCase(ctx),
        await ociCase(ctx, "crun"),
        await ociCase(ctx, "runc"),
        await podmanCase(ctx),
        await dockerCase(ctx),
      ];
      rows = await measure(cases, {
        runs: ctx.runs,
        warmup: ctx.warmup,
        log: ctx.log,
        group: "exec",
        stopped: ctx.stopped,
      });
    } finally {
      // The idle containers go now, so later groups (density) do not count them.
      for (const argv of removals.splice(0)) await runCommand(argv, { timeoutMs: 60_000 });
    }
    addRatios(rows, "hako");
    return {
      name: "exec",
      title: this.title,
      description:
        "Each engine first starts one idle container (`sleep 86400`, network none); each case then runs `/bin/true` in it, timed from launch of the client to its exit.",
      notes: ["Ratios are medians over hako exec's median."],
      baseline: "hako",
      rows,
    };
  },
};
