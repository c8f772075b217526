/**
 * Progress of a pull or push, one row per layer. On a terminal the rows are bars redrawn
 * in place (bytes, rate, ETA), like Docker's; otherwise each change of a row's state is one
 * plain line, so logs stay readable; `quiet` prints nothing.
 */

/** How progress is shown. */
export type ProgressMode = "tty" | "plain" | "quiet";

/** Decimal sizes like Docker's (`1.2MB`). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) v /= 1000, i++;
  return i === 0 ? `${v}B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "--";
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** One row: a layer (or the config) being transferred. */
export class Bar {
  #status = "Waiting";
  #verb = "";
  #total = 0;
  #done = 0;
  #start = 0;
  #samples: [number, number][] = [];
  #active = false;

  constructor(readonly id: string, readonly progress: Progress) {}

  /** Sets a state without a byte count ("Waiting", "Already exists"). */
  status(text: string): void {
    this.#status = text;
    this.#active = false;
    this.progress.changed(this, text);
  }

  /** Starts a transfer of `total` bytes ("Downloading"). */
  start(verb: string, total: number): void {
    this.#verb = verb;
    this.#total = total;
    this.#done = 0;
    this.#start = this.progress.now();
    this.#samples = [[this.#start, 0]];
    this.#active = true;
    this.#status = verb;
    this.progress.changed(this, `${verb} ${formatBytes(total)}`);
  }

  /** Counts `n` more bytes moved. */
  add(n: number): void {
    this.#done += n;
  }

  /** Ends the row with a final state; the plain line carries the size, time and rate. */
  finish(text: string): void {
    const secs = (this.progress.now() - this.#start) / 1000;
    const wasActive = this.#active;
    this.#active = false;
    this.#status = text;
    const detail = wasActive && this.#done > 0
      ? ` (${formatBytes(this.#done)} in ${secs.toFixed(1)}s, ${
        formatBytes(this.#done / Math.max(secs, 0.001))
      }/s)`
      : "";
    this.progress.changed(this, text + detail);
  }

  /** True while a transfer runs. */
  get active(): boolean {
    return this.#active;
  }

  /** The row as a terminal line. */
  line(width = 40): string {
    const id = `${this.id}: `;
    if (!this.#active) return id + this.#status;
    const now = this.progress.now();
    this.#samples.push([now, this.#done]);
    while (this.#samples.length > 2 && now - this.#samples[0][0] > 3000) this.#samples.shift();
    const [t0, b0] = this.#samples[0];
    const rate = now > t0 ? (this.#done - b0) / ((now - t0) / 1000) : 0;
    const frac = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 0;
    const fill = Math.floor(frac * width);
    const bar = "=".repeat(Math.max(0, fill - 1)) + (fill > 0 ? ">" : "") +
      " ".repeat(width - fill);
    const eta = rate > 0 ? formatSeconds((this.#total - this.#done) / rate) : "--";
    return `${id}${this.#verb} [${bar}] ${formatBytes(this.#done)}/${formatBytes(this.#total)} ${
      formatBytes(rate)
    }/s ETA ${eta}`;
  }
}

/** The rows of one pull or push and where they are drawn. */
export class Progress {
  #bars: Bar[] = [];
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly mode: ProgressMode,
    readonly write: (s: string) => void,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * A message line: above the bars while a transfer runs ("connection lost, resuming"),
   * below them once none does ("Digest: …"), which also freezes the bars as drawn.
   */
  log(line: string): void {
    if (this.mode === "quiet") return;
    if (this.mode === "plain") return this.write(line + "\n");
    if (this.#bars.some((b) => b.active)) return this.#redraw([line]);
    this.close();
    this.#bars = [];
    this.#drawn = 0;
    this.write(`${line}\n`);
  }

  /** Adds a row. */
  bar(id: string): Bar {
    const b = new Bar(id, this);
    this.#bars.push(b);
    return b;
  }

  /** Called by a bar when its state changes. */
  changed(bar: Bar, plain: string): void {
    if (this.mode === "plain") this.write(`${bar.id}: ${plain}\n`);
    else if (this.mode === "tty") {
      this.#timer ??= setInterval(() => this.#redraw([]), 200);
      this.#redraw([]);
    }
  }

  #redraw(above: string[]): void {
    let out = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : "";
    for (const l of above) out += `\x1b[2K${l}\n`;
    for (const b of this.#bars) out += `\x1b[2K${b.line()}\n`;
    this.#drawn = this.#bars.length;
    this.write(out);
  }

  /** Draws the final state and stops redrawing. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.mode === "tty" && this.#bars.length) this.#redraw([]);
  }
}
