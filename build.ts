/**
 * Builds the single self-contained `dist/hako` executable.
 *
 *   deno run -A build.ts            # bun build --compile (works offline; tested here)
 *   deno run -A build.ts --deno     # deno compile (needs to download denort; not reachable here)
 *   deno run -A build.ts --target bun-linux-arm64   # cross-compile with Bun
 */

const args = Deno.args;
const useDeno = args.includes("--deno");
const ti = args.indexOf("--target");
const target = ti >= 0 ? args[ti + 1] : undefined;
const root = new URL(".", import.meta.url).pathname;
const out = `${root}dist/hako`;
await Deno.mkdir(`${root}dist`, { recursive: true });

const cmd = useDeno
  ? [
    "node_modules/.bin/deno",
    "compile",
    "-A",
    "--no-check",
    "--output",
    out,
    ...(target ? ["--target", target] : []),
    "cli.ts",
  ]
  : [
    "node_modules/.bin/bun",
    "build",
    "--compile",
    "--minify",
    // Each lazily imported command stays in its own chunk, so the node built-ins that only
    // some commands use (zlib, crypto, stream) are not loaded at every start: `hako
    // --version` went from 70–90 ms to 50–60 ms, `run --rm true` from ~125 ms to ~103 ms.
    "--splitting",
    "--outfile",
    out,
    ...(target ? [`--target=${target}`] : []),
    "cli.ts",
  ];
console.log(`$ ${cmd.join(" ")}`);
const { code } = await new Deno.Command(cmd[0], {
  args: cmd.slice(1),
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (code !== 0) {
  console.error(
    `build failed (exit ${code})${
      useDeno
        ? ": deno compile needs to fetch denort, which this host may not reach; use the default Bun build"
        : ""
    }`,
  );
  Deno.exit(code);
}
const st = await Deno.stat(out);
console.log(`wrote ${out} (${(st.size / 1e6).toFixed(1)} MB)`);
