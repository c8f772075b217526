/**
 * The syscall plan of `exec`: a new process inside a running container. It joins the
 * container's cgroup and every namespace of its init (user first, PID last), forks once
 * more so the process is really inside the PID namespace (setns(CLONE_NEWPID) only moves
 * future children; CLONE_PARENT makes the grandchild hako's own child), then ends like a
 * container's first process: terminal or stdio, rlimits, no_new_privs, capabilities,
 * working directory, user, execve with the PATH tried in turn.
 *
 * Joining the mount namespace also sets the root and working directory to that
 * namespace's root (setns(2): mntns_install), so paths resolve inside the container from
 * there on: /dev/ptmx, the working directory and argv[0] are the container's own.
 */

import { E, Plan, SYS } from "../../ffi/mod.ts";
import { processSteps } from "./container_plan.ts";
import { CLONE, NS_FLAG } from "./linux.ts";
import type { Process } from "./spec.ts";
import { type ConsoleInput, consoleSteps } from "./tty.ts";

/** Namespace types in the order they are joined (PID last: it needs the extra fork). */
export const EXEC_NS_ORDER = ["user", "ipc", "uts", "network", "cgroup", "mount", "pid"] as const;

/** An open namespace file of the container's init. */
export interface JoinNs {
  type: (typeof EXEC_NS_ORDER)[number];
  fd: number;
}

/** Everything the exec plan needs, worked out by the engine beforehand. */
export interface ExecInput {
  /** The process: args, env, cwd (absolute, inside the container), user, capabilities. */
  process: Process;
  /** Namespaces to join; any order, joined in EXEC_NS_ORDER. */
  namespaces: JoinNs[];
  /** Open `cgroup.procs` fds of the container's cgroup. */
  cgroupProcsFds: number[];
  /** Absolute in-container paths to try for argv[0], in PATH order. */
  execPaths: string[];
  /** Parent fds that become 0, 1, 2 (-1 keeps hako's). */
  stdio?: [number, number, number];
  /** Open a pty in the container and make it the terminal (tty.ts). */
  console?: ConsoleInput;
}

/** Builds the plan; the spawn's `forkedPid` is the exec'd process when a PID ns is joined. */
export function buildExecPlan(input: ExecInput): Plan {
  const proc = input.process;
  if (!proc.args?.length) throw new TypeError("exec: no command given");
  if (!input.execPaths.length) throw new TypeError("exec: no path to execute");
  const p = new Plan();
  p.resetSignals = true;
  for (const fd of input.cgroupProcsFds) {
    p.syscall(SYS.write, [fd, p.str("0"), 1], "join the container's cgroup");
  }
  const joins = [...input.namespaces].sort((a, b) =>
    EXEC_NS_ORDER.indexOf(a.type) - EXEC_NS_ORDER.indexOf(b.type)
  );
  for (const ns of joins) {
    p.syscall(SYS.setns, [ns.fd, NS_FLAG[ns.type]], `join the container's ${ns.type} namespace`);
  }
  if (joins.some((n) => n.type === "pid")) p.fork(CLONE.PARENT, "fork into the PID namespace");
  p.syscall(SYS.setsid, [], "create a session", { ignore: E.EPERM });
  if (input.console) {
    consoleSteps(p, input.console, { uid: proc.user.uid, bindConsole: false });
  } else if (input.stdio) {
    input.stdio.forEach((fd, i) => {
      if (fd >= 0 && fd !== i) p.syscall(SYS.dup3, [fd, i, 0], `set up fd ${i}`);
    });
  }
  processSteps(p, proc, proc.cwd, input.execPaths);
  return p;
}

/**
 * The paths execvp would try for `cmd` with `PATH` (absolute and relative names as given).
 *
 * @example
 * ```ts
 * execCandidates("ls", "/usr/bin:/bin"); // ["/usr/bin/ls", "/bin/ls"]
 * ```
 */
export function execCandidates(cmd: string, path: string | undefined): string[] {
  if (cmd.includes("/")) return [cmd];
  const dirs = (path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":").map((d) => d || ".");
  return [...new Set(dirs.map((d) => `${d.replace(/\/+$/, "")}/${cmd}`))];
}
