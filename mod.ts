/**
 * hako: a container engine for Deno and Bun.
 *
 * As a library it gives the engine the CLI uses; run as a script it is the CLI itself
 * (`deno run -A mod.ts run ...`, `bun mod.ts run ...`, and the compiled `dist/hako`).
 *
 * @example
 * ```ts
 * import { createContainer, runForeground, storePaths } from "./mod.ts";
 * const paths = storePaths("/tmp/hako-root");
 * const c = await createContainer(paths, { image: "mybox:1", cmd: ["echo", "hi"], rm: true });
 * const code = await runForeground(paths, c); // 0
 * ```
 *
 * @module
 */

export { type Paths, storePaths } from "./src/engine/paths.ts";
export { createContainer, type CreateOptions } from "./src/engine/create.ts";
export { monitor, runForeground, startDetached } from "./src/engine/run.ts";
export {
  getContainer,
  killContainer,
  listContainers,
  removeContainer,
  startContainer,
  stopContainer,
  waitContainer,
} from "./src/engine/control.ts";
export type { Container } from "./src/engine/record.ts";
export {
  type ContainerStats,
  containerStats,
  cpuPercent,
  memoryUsage,
  sampleContainer,
} from "./src/engine/stats.ts";
export { updateContainer, type UpdateOptions } from "./src/engine/update.ts";
export { execInContainer, type ExecOptions } from "./src/engine/exec.ts";
export { attachContainer, type AttachOptions } from "./src/engine/attach.ts";
export { containerProcesses, type TopProcess } from "./src/engine/top.ts";
export { importImage, listImages, removeImage, resolveImage, tagImage } from "./src/image/mod.ts";
export { login, logout, pullImage, pushImage } from "./src/registry/mod.ts";
export { build, commitContainer } from "./src/build/mod.ts";
export { loadSpec, startBundle } from "./src/runtime/create.ts";
export type { Spec } from "./src/runtime/spec.ts";
export * from "./src/errors.ts";
export { main } from "./src/cli/main.ts";

if (import.meta.main) {
  const { main } = await import("./src/cli/main.ts");
  const { args, exit } = await import("./ffi/host.ts");
  exit(await main(args()));
}
