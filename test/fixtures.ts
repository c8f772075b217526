/**
 * Test fixtures made offline from Debian's busybox-static: a tiny root filesystem, as a
 * directory or a tarball, with /etc/passwd and /etc/group so user names resolve.
 */

import * as fs from "../ffi/fs.ts";

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX = "/bin/busybox";

/** Why busybox-based tests cannot run here, or false when they can. */
export async function needsBusybox(): Promise<string | false> {
  return (await fs.exists(BUSYBOX))
    ? false
    : "needs busybox-static (apt-get install busybox-static)";
}

const APPLETS = [
  "sh",
  "true",
  "false",
  "echo",
  "cat",
  "ls",
  "id",
  "hostname",
  "sleep",
  "env",
  "pwd",
  "mkdir",
  "touch",
  "rm",
  "ps",
  "grep",
  "head",
  "wc",
  "kill",
  "mount",
  "readlink",
  "stat",
  "test",
  "[",
  "printf",
  "seq",
  "yes",
  "dd",
  "tr",
  "sed",
  "awk",
  "whoami",
  "uname",
  "date",
  "ln",
  "chmod",
  "cut",
  "sort",
  "nc",
  "wget",
  "httpd",
  "ping",
  "ip",
  "ifconfig",
  "top",
  "find",
  "xargs",
  "tail",
];

/** Makes a busybox root filesystem in `dir`. */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const d of ["bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev", "usr/bin"]) {
    await fs.mkdir(`${dir}/${d}`);
  }
  await fs.chmod(`${dir}/tmp`, 0o1777);
  await fs.writeFile(`${dir}/bin/busybox`, await fs.readFile(BUSYBOX), { mode: 0o755 });
  for (const a of APPLETS) await fs.symlink("busybox", `${dir}/bin/${a}`);
  await fs.writeFile(
    `${dir}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  await fs.writeFile(
    `${dir}/etc/group`,
    "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n",
  );
  await fs.chown(`${dir}/home/app`, 1000, 1000);
}

/** Makes a gzip'd busybox rootfs tarball at `out` (uses the host's tar and gzip). */
export async function makeBusyboxTar(out: string, compress: "gzip" | "zstd" | "none" = "gzip") {
  const dir = await fs.makeTempDir({ prefix: "hako-bbroot-" });
  try {
    await makeBusyboxRootfs(dir);
    const z = compress === "gzip" ? ["-z"] : compress === "zstd" ? ["--zstd"] : [];
    await run(["tar", "-C", dir, ...z, "-cf", out, "."]);
  } finally {
    await fs.remove(dir, { recursive: true });
  }
}

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

/** Runs a host command; resolves with its output, rejects on a non-zero exit. */
export async function run(
  argv: string[],
  opts: { stdin?: string; env?: Record<string, string>; check?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let code: number, stdout: string, stderr: string;
  if (Bun) {
    const p = Bun.spawn(argv, {
      stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...opts.env },
    });
    [stdout, stderr, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
  } else {
    const p = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: opts.stdin !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: opts.env,
    }).spawn();
    if (opts.stdin !== undefined) {
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await p.output();
    code = out.code;
    stdout = new TextDecoder().decode(out.stdout);
    stderr = new TextDecoder().decode(out.stderr);
  }
  if (opts.check !== false && code !== 0) {
    throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  }
  return { code, stdout, stderr };
}

// deno-lint-ignore no-explicit-any
declare const process: any;
