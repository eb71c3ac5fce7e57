/** How every bench report writes rates: one decimal, `66.7%`; `–` when there is no rate. */
export function formatPercent(rate: number | null): string {
  return rate === null ? '–' : `${(rate * 100).toFixed(1)}%`;
}

/** A difference of two rates in percentage points, signed: `+33.3 pts`, `-5.0 pts`, `±0.0 pts`. */
export function formatPoints(delta: number | null): string {
  if (delta === null) return '–';
  const points = (delta * 100).toFixed(1);
  if (points === '0.0' || points === '-0.0') return '±0.0 pts';
  return `${delta > 0 ? '+' : ''}${points} pts`;
}
