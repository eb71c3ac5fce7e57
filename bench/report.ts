import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How one measured figure compares with the target; INFO rows have no target. */
export type Verdict = 'PASS' | 'MISS' | 'INFO';

export interface Target {
  op: '>=' | '<' | '<=';
  value: number;
}

export interface ResultRow {
  benchmark: string;
  metric: string;
  measured: number;
  unit: Unit;
  target: Target | null;
  verdict: Verdict;
}

export type Unit = 'ms' | 's' | 'MB' | 'ratio' | '%' | 'x' | 'count' | 'USD';

export type Log = (line: string) => void;

/** One benchmark: prints its details through `log` and returns its rows for the final table. */
export interface Benchmark {
  name: string;
  run(log: Log): Promise<ResultRow[]>;
}

export function judge(measured: number, target: Target | null): Verdict {
  if (target === null) return 'INFO';
  const ok =
    target.op === '>='
      ? measured >= target.value
      : target.op === '<='
        ? measured <= target.value
        : measured < target.value;
  return ok ? 'PASS' : 'MISS';
}

/** A row for the table; without a target it is reported as INFO. */
export function row(
  benchmark: string,
  metric: string,
  measured: number,
  unit: Unit,
  target: Target | null = null,
): ResultRow {
  return { benchmark, metric, measured, unit, target, verdict: judge(measured, target) };
}

export function formatValue(value: number, unit: Unit): string {
  if (unit === '%') return `${(value * 100).toFixed(1)} %`;
  if (unit === 'ratio') return value.toFixed(2);
  if (unit === 'x') return `${value.toFixed(2)}x`;
  if (unit === 'count') return String(Math.round(value));
  if (unit === 'USD') return `$${value.toFixed(2)}`;
  return `${value.toFixed(1)} ${unit}`;
}

function formatTarget(target: Target | null, unit: Unit): string {
  return target === null ? '-' : `${target.op} ${formatValue(target.value, unit)}`;
}

/** The final table: benchmark | metric | measured | target | verdict, columns padded. */
export function renderTable(rows: ResultRow[]): string {
  const header = ['benchmark', 'metric', 'measured', 'target', 'verdict'];
  const cells = rows.map((r) => [
    r.benchmark,
    r.metric,
    formatValue(r.measured, r.unit),
    formatTarget(r.target, r.unit),
    r.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** One figure as `bench-results.json` holds it, for a script to check. */
export interface ResultRecord {
  /** `<benchmark>: <metric>`, unique within a run. */
  name: string;
  benchmark: string;
  value: number;
  unit: Unit;
  /** `{ op, value }` in the figure's unit, or null when the figure has no target. */
  target: Target | null;
  /** Whether the value meets the target; null when there is none. */
  pass: boolean | null;
}

export function toRecord(r: ResultRow): ResultRecord {
  return {
    name: `${r.benchmark}: ${r.metric}`,
    benchmark: r.benchmark,
    value: r.measured,
    unit: r.unit,
    target: r.target,
    pass: r.verdict === 'INFO' ? null : r.verdict === 'PASS',
  };
}

/** Writes `{ meta, results }`: the run's circumstances and one record per figure. */
export async function writeResultsJson(
  path: string,
  rows: ResultRow[],
  meta: Record<string, unknown>,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const results = rows.map(toRecord);
  await writeFile(path, `${JSON.stringify({ meta, results }, null, 2)}\n`);
}
