/**
 * Runs `work` over `items` with at most `limit` in flight, keeping result order.
 * A rejected item rejects the whole call after in-flight items settle (callers that must
 * never fail record errors inside `work` instead).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane);
  await Promise.all(lanes);
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}

/** A concurrency limit shared by calls made at different times: `limit(fn)` queues `fn`. */
export function createLimiter(limit: number): <R>(work: () => Promise<R>) => Promise<R> {
  let active = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    if (active >= Math.max(1, limit)) return;
    const start = queue.shift();
    if (start) start();
  };
  return (work) =>
    new Promise((resolve, reject) => {
      queue.push(() => {
        active++;
        work()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}
