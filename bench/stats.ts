/**
 * Summary statistics of a list of samples (milliseconds or any other unit).
 *
 * @module
 */

/** What the report shows of one list of samples. */
export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * The q-quantile (0..1) of `samples` by linear interpolation between closest ranks
 * (the "type 7" estimator of R and NumPy's default).
 *
 * @example
 * ```ts
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** The median of `samples`. */
export function median(samples: number[]): number {
  return quantile(samples, 0.5);
}

/** The 90th percentile of `samples`. */
export function p90(samples: number[]): number {
  return quantile(samples, 0.9);
}

/** Median, p90, min, max and mean of `samples`, or null when there are none. */
export function summarize(samples: number[]): Summary | null {
  if (samples.length === 0) return null;
  return {
    n: samples.length,
    median: median(samples),
    p90: p90(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/** Formats milliseconds for a table: "0.82 ms", "12.3 ms", "152 ms", "1.52 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Formats a ratio: "×0.42", "×1.0", "×12". */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return "–";
  if (r >= 10) return `×${r.toFixed(0)}`;
  if (r >= 1) return `×${r.toFixed(1)}`;
  return `×${r.toFixed(2)}`;
}
