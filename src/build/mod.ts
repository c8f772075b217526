/**
 * The build side of hako: Dockerfile builds with a layer cache, and commit of a container's
 * changes.
 *
 * @example
 * ```ts
 * import { build } from "./src/build/mod.ts";
 * import { storePaths } from "./src/engine/paths.ts";
 * const r = await build(storePaths("/var/lib/hako"), {
 *   context: "./app",
 *   dockerfile: { text: await Deno.readTextFile("./app/Dockerfile"), name: "Dockerfile" },
 *   tags: ["webapp:1"],
 *   progress: (line) => console.log(line.trimEnd()),
 * });
 * r.steps.filter((s) => s.cached).length; // steps reused from the cache
 * ```
 * @module
 */

export { build, type BuildOptions, type BuildResult, type StepReport } from "./builder.ts";
export { commitContainer, type CommitOptions } from "./commit.ts";
export { changeSourceOf, containerSource, runStep, type StepRun } from "./container.ts";
export { type Dockerfile, type Instruction, parseDockerfile } from "./dockerfile.ts";
