/** Docker-style random container names ("adjective_scientist"). */

const LEFT = [
  "admiring",
  "brave",
  "calm",
  "clever",
  "eager",
  "elegant",
  "focused",
  "gentle",
  "happy",
  "jolly",
  "keen",
  "lucid",
  "modest",
  "nifty",
  "quirky",
  "serene",
  "sharp",
  "vibrant",
  "wizardly",
  "zealous",
];
const RIGHT = [
  "babbage",
  "curie",
  "darwin",
  "euler",
  "fermat",
  "galileo",
  "hopper",
  "kepler",
  "lovelace",
  "meitner",
  "newton",
  "noether",
  "pascal",
  "ritchie",
  "shannon",
  "thompson",
  "torvalds",
  "turing",
  "wozniak",
  "yonath",
];

/** A random name such as "serene_noether_4821". */
export function randomName(): string {
  const r = crypto.getRandomValues(new Uint32Array(3));
  return `${LEFT[r[0] % LEFT.length]}_${RIGHT[r[1] % RIGHT.length]}_${r[2] % 10000}`;
}
