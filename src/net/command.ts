/**
 * Running a host tool (nft, iptables) through a spawn plan: stdin from a string, stdout and
 * stderr captured, exit status checked. Only NAT rules need a host tool; links, addresses
 * and routes go through netlink.
 *
 * @module
 */

import {
  close,
  exitCode,
  O_CLOEXEC,
  pipe2,
  Plan,
  readAsync,
  spawn,
  SYS,
  wait4,
  write,
} from "../../ffi/mod.ts";
import * as fs from "../../ffi/fs.ts";

/** The result of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const SEARCH = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"];

/** The absolute path of host program `name`, or null when it is not installed. */
export async function findProgram(name: string): Promise<string | null> {
  for (const d of SEARCH) {
    const st = await fs.stat(`${d}/${name}`);
    if (st && !st.isDirectory) return `${d}/${name}`;
  }
  return null;
}

async function drain(fd: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await readAsync(fd, buf);
      if (n <= 0) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    close(fd);
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) all.set(c, o), o += c.length;
  return new TextDecoder().decode(all);
}

/** Runs `argv` (argv[0] absolute) with `stdin`; resolves with its exit code and output. */
export async function runCommand(argv: string[], stdin = ""): Promise<CommandResult> {
  const [inR, inW] = pipe2(O_CLOEXEC);
  const [outR, outW] = pipe2(O_CLOEXEC);
  const [errR, errW] = pipe2(O_CLOEXEC);
  const p = new Plan();
  p.syscall(SYS.dup3, [inR, 0, 0], "stdin");
  p.syscall(SYS.dup3, [outW, 1, 0], "stdout");
  p.syscall(SYS.dup3, [errW, 2, 0], "stderr");
  const env = p.strings(["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]);
  p.syscall(SYS.execve, [p.str(argv[0]), p.strings(argv), env], `run ${argv[0]}`);
  let pid: number;
  try {
    ({ pid } = await spawn(p, { cloneFlags: 0 }));
  } catch (e) {
    for (const fd of [inW, outR, errR]) close(fd);
    throw e;
  } finally {
    for (const fd of [inR, outW, errW]) close(fd);
  }
  const out = drain(outR), err = drain(errR);
  try {
    if (stdin) write(inW, stdin);
  } catch { /* the program exited without reading; its status says why */ }
  close(inW);
  const [stdout, stderr, { status }] = await Promise.all([out, err, wait4(pid)]);
  return { code: exitCode(status) ?? 128, stdout, stderr };
}
