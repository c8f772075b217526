/**
 * Bounded parallelism for layer transfers (Docker's defaults: 3 downloads, 5 uploads at
 * a time). The first failure stops new work, lets `onError` cancel what is running, waits
 * for it to settle (so nothing is left writing into the store) and is then thrown.
 */

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  onError?: (e: unknown) => void,
): Promise<void> {
  let next = 0;
  let failed = false;
  let first: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        if (!failed) {
          failed = true;
          first = e;
          onError?.(e);
        }
      }
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failed) throw first;
}
