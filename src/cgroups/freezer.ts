/**
 * freezer: stop every task of a container at once (pause/unpause, and a fork-proof kill on
 * v1). v1 uses the freezer hierarchy's freezer.state; v2 has cgroup.freeze in every cgroup.
 */

import { CgroupError, parseKeyed, readValue, sleep, writeValue } from "./files.ts";

const TRIES = 200; // 200 × 10 ms: freezing is normally done in well under a millisecond

/** v1: writes FROZEN/THAWED and waits until the state settles (FREEZING is transient). */
export async function setV1(dir: string, frozen: boolean): Promise<void> {
  const want = frozen ? "FROZEN" : "THAWED";
  for (let i = 0; i < TRIES; i++) {
    await writeValue(dir, "freezer.state", want);
    if ((await readValue(dir, "freezer.state")) === want) return;
    await sleep(10);
  }
  throw new CgroupError(`set ${dir}/freezer.state to ${want}: still not ${want} after 2s`);
}

/** v2: writes cgroup.freeze and waits for cgroup.events to report the new state. */
export async function setV2(dir: string, frozen: boolean): Promise<void> {
  await writeValue(dir, "cgroup.freeze", frozen ? 1 : 0);
  for (let i = 0; i < TRIES; i++) {
    const events = parseKeyed(await readValue(dir, "cgroup.events"));
    if (!events.has("frozen") || events.get("frozen") === (frozen ? 1 : 0)) return;
    await sleep(10);
  }
  throw new CgroupError(`${frozen ? "freeze" : "thaw"} ${dir}: cgroup.events did not settle in 2s`);
}
