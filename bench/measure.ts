/** Small measuring helpers shared by the benchmarks. */

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/** Runs `work` `runs` times one after another (after `warmup` unmeasured runs); returns each duration in ms. */
export async function timeRuns(
  runs: number,
  work: () => Promise<unknown>,
  warmup = 2,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await work();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    out.push(performance.now() - start);
  }
  return out;
}

/** Runs `work` `runs` times one after another and keeps the result with the lowest `cost`. */
export async function bestOf<T>(
  runs: number,
  work: () => Promise<T>,
  cost: (result: T) => number,
): Promise<T> {
  let best = await work();
  for (let i = 1; i < runs; i++) {
    const next = await work();
    if (cost(next) < cost(best)) best = next;
  }
  return best;
}
