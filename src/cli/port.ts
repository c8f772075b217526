/** `hako port CONTAINER [PRIVATE_PORT[/PROTO]]`: the host ports a container publishes. */

import { writeOut } from "../../ffi/host.ts";
import { getContainer } from "../engine/control.ts";
import type { Paths } from "../engine/paths.ts";
import { NotFoundError } from "../errors.ts";
import { needArgs, parse } from "./parse.ts";

/** `hako port`. */
export async function port(paths: Paths, argv: string[]): Promise<number> {
  const a = parse("port", {}, argv);
  needArgs("port", a._, 1, "CONTAINER [PRIVATE_PORT[/PROTO]]");
  const c = await getContainer(paths, a._[0]);
  const ports = (c.NetworkSettings.Ports ?? {}) as Record<
    string,
    { HostIp: string; HostPort: string }[] | null
  >;
  const want = a._[1] ? (a._[1].includes("/") ? a._[1] : `${a._[1]}/tcp`) : null;
  const lines: string[] = [];
  for (const [key, list] of Object.entries(ports).sort(([x], [y]) => parseInt(x) - parseInt(y))) {
    if (want && key !== want) continue;
    for (const b of list ?? []) {
      const host = `${b.HostIp || "0.0.0.0"}:${b.HostPort}`;
      lines.push(want ? host : `${key} -> ${host}`);
    }
  }
  if (want && !lines.length) {
    throw new NotFoundError(`no public port '${want}' published for ${c.Name.slice(1)}`);
  }
  writeOut(lines.map((l) => l + "\n").join(""));
  return 0;
}
