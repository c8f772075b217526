/**
 * The host process as each runtime exposes it: arguments, environment, exit, signals,
 * standard streams and how to start this same program again. Nothing outside ffi/ needs
 * to know whether it runs on Deno or Bun.
 */

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const isBun = typeof g.Bun !== "undefined";
// deno-lint-ignore no-explicit-any
const proc: any = g.process;

/** Command-line arguments after the program (and script) name. */
export function args(): string[] {
  return isBun ? proc.argv.slice(2) : Deno.args;
}

/** An environment variable, or undefined. */
export function env(name: string): string | undefined {
  return isBun ? proc.env[name] : Deno.env.get(name);
}

/** The whole environment. */
export function envAll(): Record<string, string> {
  return isBun ? { ...proc.env } : Deno.env.toObject();
}

/** This process's pid. */
export const pid: number = isBun ? proc.pid : Deno.pid;

/** Ends the process with `code`. */
export function exit(code: number): never {
  if (isBun) proc.exit(code);
  Deno.exit(code);
}

/** Signals a listener may subscribe to. */
export type SignalName =
  | "SIGINT"
  | "SIGTERM"
  | "SIGHUP"
  | "SIGQUIT"
  | "SIGWINCH"
  | "SIGUSR1"
  | "SIGUSR2";

/** Calls `fn` on each delivery of `sig`; returns a function that unsubscribes. */
export function onSignal(sig: SignalName, fn: () => void): () => void {
  if (isBun) {
    proc.on(sig, fn);
    return () => proc.off(sig, fn);
  }
  Deno.addSignalListener(sig, fn);
  return () => Deno.removeSignalListener(sig, fn);
}

const enc = new TextEncoder();

// Both runtimes ignore SIGPIPE, so a reader that goes away (`hako stats | head`) would leave
// hako writing into a broken pipe: Deno throws, Bun reports an error event and carries on
// forever. End quietly with 128 + SIGPIPE instead, as a program with the default
// disposition would.
const EXIT_SIGPIPE = 141;
let stdoutWatched = false;

/** Writes text to standard output (synchronously, so output order is kept). */
export function writeOut(s: string | Uint8Array): void {
  const b = typeof s === "string" ? enc.encode(s) : s;
  if (isBun) {
    if (!stdoutWatched) {
      stdoutWatched = true;
      proc.stdout.on("error", (e: { code?: string }) => {
        if (e?.code === "EPIPE") proc.exit(EXIT_SIGPIPE);
        throw e;
      });
    }
    proc.stdout.write(b);
  } else {
    let off = 0;
    try {
      while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) Deno.exit(EXIT_SIGPIPE);
      throw e;
    }
  }
}

/** Writes text to standard error. */
export function writeErr(s: string): void {
  if (isBun) proc.stderr.write(s);
  else Deno.stderr.writeSync(enc.encode(s));
}

/** Reads all of standard input. */
export async function readStdin(): Promise<Uint8Array> {
  const stream: ReadableStream<Uint8Array> = isBun ? g.Bun.stdin.stream() : Deno.stdin.readable;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Standard input as a stream. */
export function stdinStream(): ReadableStream<Uint8Array> {
  return isBun ? g.Bun.stdin.stream() : Deno.stdin.readable;
}

/** True when fd 0, 1 or 2 is a terminal. */
export function isTerminal(fd: 0 | 1 | 2): boolean {
  if (isBun) return !!(fd === 0 ? proc.stdin : fd === 1 ? proc.stdout : proc.stderr)?.isTTY;
  return (fd === 0 ? Deno.stdin : fd === 1 ? Deno.stdout : Deno.stderr).isTerminal();
}

/**
 * The argv that starts this same program again: the compiled binary alone, or the
 * runtime plus the script for `deno run` / `bun`.
 */
export function selfArgv(): string[] {
  if (isBun) {
    const main: string = g.Bun.main;
    // A `bun build --compile` binary reports its entry inside the embedded /$bunfs.
    if (main.startsWith("/$bunfs") || main.startsWith("B:/~BUN")) return [proc.execPath];
    return [proc.execPath, main];
  }
  const main = Deno.mainModule;
  if (!main.startsWith("file:")) return [Deno.execPath()];
  const path = decodeURIComponent(new URL(main).pathname);
  if (path.includes("/deno-compile-")) return [Deno.execPath()];
  return [Deno.execPath(), "run", "-A", "--no-check", path];
}
