import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How one measured figure compares with the target; INFO rows have no target. */
export type Verdict = 'PASS' | 'MISS' | 'INFO';

export interface Target {
  op: '>=' | '<';
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

export type Unit = 'ms' | 'MB' | 'ratio' | '%' | 'x' | 'count';

export type Log = (line: string) => void;

/** One benchmark: prints its details through `log` and returns its rows for the final table. */
export interface Benchmark {
  name: string;
  run(log: Log): Promise<ResultRow[]>;
}

export function judge(measured: number, target: Target | null): Verdict {
  if (target === null) return 'INFO';
  const ok = target.op === '>=' ? measured >= target.value : measured < target.value;
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

export async function writeResultsJson(
  path: string,
  rows: ResultRow[],
  meta: Record<string, unknown>,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
}
