/**
 * The `hako` command line: global flags, then one subcommand. Subcommands are loaded on
 * demand so `hako run` does not pay for the code of `build` or `pull`.
 */

import { writeErr, writeOut } from "../../ffi/host.ts";
import { SysError } from "../../ffi/mod.ts";
import { storePaths } from "../engine/paths.ts";
import type { Paths } from "../engine/paths.ts";
import { HakoError, UsageError } from "../errors.ts";
import { mark, report } from "../trace.ts";

type Command = (paths: Paths, argv: string[]) => Promise<number>;

const COMMANDS: Record<string, [string, () => Promise<Command>]> = {
  run: [
    "Create and run a new container from an image",
    async () => (await import("./run.ts")).runCommand,
  ],
  create: ["Create a new container", async () => (await import("./run.ts")).createCommand],
  start: [
    "Start one or more stopped containers",
    async () => (await import("./containers.ts")).start,
  ],
  stop: ["Stop one or more running containers", async () => (await import("./containers.ts")).stop],
  kill: ["Kill one or more running containers", async () => (await import("./containers.ts")).kill],
  wait: [
    "Block until containers stop, then print their exit codes",
    async () => (await import("./containers.ts")).wait,
  ],
  rm: ["Remove one or more containers", async () => (await import("./containers.ts")).rm],
  exec: [
    "Execute a command in a running container",
    async () => (await import("./exec.ts")).exec,
  ],
  attach: [
    "Attach local standard input, output, and error streams to a running container",
    async () => (await import("./attach.ts")).attach,
  ],
  top: ["Display the running processes of a container", async () => (await import("./top.ts")).top],
  ps: ["List containers", async () => (await import("./containers.ts")).ps],
  logs: ["Fetch the logs of a container", async () => (await import("./containers.ts")).logs],
  inspect: [
    "Return low-level information on containers or images",
    async () => (await import("./containers.ts")).inspect,
  ],
  images: ["List images", async () => (await import("./images.ts")).images],
  import: [
    "Import a root filesystem tarball or directory as an image",
    async () => (await import("./images.ts")).importCmd,
  ],
  tag: [
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    async () => (await import("./images.ts")).tag,
  ],
  rmi: ["Remove one or more images", async () => (await import("./images.ts")).rmi],
  build: [
    "Build an image from a Dockerfile",
    async () => (await import("./build.ts")).buildCommand,
  ],
  history: ["Show the history of an image", async () => (await import("./image_cmds.ts")).history],
  commit: [
    "Create a new image from a container's changes",
    async () => (await import("./image_cmds.ts")).commit,
  ],
  diff: [
    "Inspect changes to files or directories on a container's filesystem",
    async () => (await import("./image_cmds.ts")).diff,
  ],
  save: [
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    async () => (await import("./image_cmds.ts")).save,
  ],
  load: [
    "Load an image from a tar archive or STDIN",
    async () => (await import("./image_cmds.ts")).load,
  ],
  export: [
    "Export a container's filesystem as a tar archive",
    async () => (await import("./image_cmds.ts")).exportCmd,
  ],
  image: [
    "Manage images (tree, prune, ls, rm, history, save, load, tag, import)",
    async () => (await import("./image_cmds.ts")).image,
  ],
  system: ["Manage hako (df, prune)", async () => (await import("./system.ts")).system],
  network: ["Manage networks", async () => (await import("./network.ts")).network],
  port: [
    "List port mappings or a specific mapping for the container",
    async () => (await import("./port.ts")).port,
  ],
  pull: ["Download an image from a registry", async () => (await import("./pull.ts")).pull],
  push: ["Upload an image to a registry", async () => (await import("./push.ts")).push],
  login: ["Log in to a registry", async () => (await import("./login.ts")).login],
  logout: ["Log out from a registry", async () => (await import("./login.ts")).logout],
  stats: [
    "Display a live stream of container(s) resource usage statistics",
    async () => (await import("./stats.ts")).stats,
  ],
  update: [
    "Update configuration of one or more containers",
    async () => (await import("./update.ts")).update,
  ],
};

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `Usage:  hako [OPTIONS] COMMAND

A container engine in one binary (Deno and Bun)

Options:
      --root string   Store root (default $HAKO_ROOT or /var/lib/hako)
  -v, --version       Print version information and quit

Commands:
${Object.entries(COMMANDS).map(([k, [d]]) => `  ${k.padEnd(w + 2)}${d}`).join("\n")}

Run 'hako COMMAND --help' for more information on a command.
`;
}

/** Runs the CLI with `argv` (without the program name); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let root: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--root") root = argv[++i];
    else if (a.startsWith("--root=")) root = a.slice(7);
    else if (a === "--version" || a === "-v") {
      writeOut("hako version 0.1.0\n");
      return 0;
    } else if (a === "--help" || a === "-h") {
      writeOut(usage());
      return 0;
    } else break;
  }
  mark("boot");
  const name = argv[i];
  const rest = argv.slice(i + 1);
  const paths = storePaths(root);
  try {
    if (name === undefined) {
      writeOut(usage());
      return 0;
    }
    if (name === "__monitor") {
      const { monitor } = await import("../engine/run.ts");
      return await monitor(paths, rest[0]);
    }
    const entry = COMMANDS[name];
    if (!entry) {
      throw new UsageError(`unknown command "${name}" for "hako"\nRun 'hako --help' for usage.`);
    }
    const code = await (await entry[1]())(paths, rest);
    report();
    return code;
  } catch (e) {
    if (e instanceof HakoError) {
      writeErr(`hako: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof SysError) {
      writeErr(`hako: ${e.message}\n`);
      return 125;
    }
    writeErr(`hako: ${(e as Error)?.stack ?? e}\n`);
    return 125;
  }
}
