/**
 * Containers as the image side uses them: where a container's changes are (for diff,
 * commit and export), and running one command to completion in a throwaway container on an
 * image that exists only as a draft (a Dockerfile RUN step), with its output streamed.
 *
 * A build container is an ordinary container record (so `hako ps -a` shows it while it
 * runs and a crash leaves something `rm`/`system prune` can clean); it is removed when its
 * step ends, whatever happened.
 */

import {
  AT_FDCWD,
  close,
  kill,
  O,
  O_CLOEXEC,
  openat,
  pipe2,
  readAsync,
  wait4,
} from "../../ffi/mod.ts";
import { pid as selfPid } from "../../ffi/host.ts";
import { createContainer } from "../engine/create.ts";
import { finish, launch, type Launched, removeFiles, statusCode } from "../engine/launch.ts";
import type { Paths } from "../engine/paths.ts";
import { type Container, containerDir, readRecord } from "../engine/record.ts";
import { getContainer } from "../engine/control.ts";
import { HakoError, InvalidDataError } from "../errors.ts";
import { sha256 } from "../image/blob.ts";
import type { ChangeSource } from "../image/changeset.ts";
import { type ImageDraft } from "../image/draft.ts";
import type { Image } from "../image/resolve.ts";
import { storePaths as imagePaths } from "../image/store.ts";
import { loadSpec, rootLayers } from "../runtime/create.ts";

/** Where a container's changes are: upper dir, image layers below, mount points. */
export async function changeSourceOf(paths: Paths, c: Container): Promise<ChangeSource> {
  const dir = containerDir(paths, c.Id);
  const spec = await loadSpec(dir);
  const { layers, overlay } = rootLayers(spec, `${dir}/rootfs`);
  if (!overlay) {
    throw new InvalidDataError(`container ${c.Name.slice(1)} has no layered root file system`);
  }
  return {
    upper: layers[0],
    lowers: layers.slice(1),
    mountPoints: (spec.mounts ?? []).map((m) => m.destination),
  };
}

/** Resolves a container by name or id and returns it with its change source. */
export async function containerSource(
  paths: Paths,
  ref: string,
): Promise<{ container: Container; source: ChangeSource }> {
  const container = await getContainer(paths, ref);
  return { container, source: await changeSourceOf(paths, container) };
}

/** A draft as the engine's `Image` (an id derived from its config; not in the index). */
export function draftImage(paths: Paths, d: ImageDraft): Image {
  const p = imagePaths(paths.root);
  return {
    id: sha256(JSON.stringify(d.config)),
    manifestDigest: "",
    config: d.config,
    layerDirs: d.config.rootfs.diff_ids.map((id) => p.layerDiff(id)),
    repoTags: [],
  };
}

/** How to run a build step. */
export interface StepRun {
  /** The full argv (shell form already wrapped in the SHELL). */
  argv: string[];
  /** Extra environment (build args), below the image's own ENV. */
  env?: string[];
  /** `--network` for the step (default: Docker's default, the bridge). */
  network?: string;
  /** Receives the step's stdout and stderr as they come. */
  output?: (chunk: Uint8Array, stream: "stdout" | "stderr") => void;
  /** Stops the step (SIGKILL to the container). */
  signal?: AbortSignal;
}

/**
 * Runs `run.argv` in a new container on `draft`, then calls `after` with the exit code and
 * the container's change source (still on disk), and removes the container.
 */
export async function runStep<T>(
  paths: Paths,
  draft: ImageDraft,
  run: StepRun,
  after: (code: number, source: ChangeSource) => Promise<T>,
): Promise<T> {
  const name = `hako-build-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const c = await createContainer(paths, {
    image: "(build step)",
    resolvedImage: draftImage(paths, draft),
    cmd: run.argv,
    entrypoint: "",
    env: run.env,
    name,
    network: run.network,
    labels: ["run.hako.build=1"],
  });
  const devnull = openat(AT_FDCWD, "/dev/null", O.RDONLY | O.CLOEXEC);
  const [outR, outW] = pipe2(O_CLOEXEC);
  const [errR, errW] = pipe2(O_CLOEXEC);
  const pump = async (fd: number, stream: "stdout" | "stderr") => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await readAsync(fd, buf).catch(() => 0);
      if (n <= 0) break;
      run.output?.(buf.slice(0, n), stream);
    }
    // Closed only once no read is in flight on it (a closed fd number can be reused).
    close(fd);
  };
  let l: Launched | null = null;
  let writeEnds = true;
  const closeWriteEnds = () => {
    if (writeEnds) close(outW), close(errW), writeEnds = false;
  };
  const pumps = [pump(outR, "stdout"), pump(errR, "stderr")];
  const stop = () => {
    try {
      if (l) kill(l.pid, 9);
    } catch { /* already gone */ }
  };
  try {
    if (run.signal?.aborted) throw new HakoError("build interrupted");
    l = await launch(paths, c, { stdio: [devnull, outW, errW] }, selfPid);
    run.signal?.addEventListener("abort", stop);
    closeWriteEnds();
    const { status } = await wait4(l.pid);
    run.signal?.removeEventListener("abort", stop);
    const launched = l;
    l = null;
    await finish(paths, c.Id, launched, status);
    await Promise.all(pumps);
    if (run.signal?.aborted) throw new HakoError("build interrupted");
    return await after(statusCode(status), await changeSourceOf(paths, c));
  } finally {
    if (l) {
      stop();
      await wait4(l.pid).then((w) => finish(paths, c.Id, l!, w.status)).catch(() => {});
    }
    closeWriteEnds();
    await Promise.race([Promise.all(pumps), new Promise((r) => setTimeout(r, 200))]);
    close(devnull);
    const r = await readRecord(paths, c.Id).catch(() => null);
    await removeFiles(paths, r ?? c);
  }
}
