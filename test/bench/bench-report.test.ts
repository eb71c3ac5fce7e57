import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { row, writeResultsJson } from '../../bench/report.js';

describe('bench-results.json', () => {
  it('writes one record per figure with its target and whether it passed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-report-'));
    const path = join(dir, 'bench-results.json');
    await writeResultsJson(
      path,
      [
        row('concurrency', 'efficiency C=8', 0.93, 'ratio', { op: '>=', value: 0.9 }),
        row('webhook', 'p99 latency', 61, 'ms', { op: '<', value: 50 }),
        row('webhook', 'p50 latency', 12, 'ms'),
      ],
      { node: 'v20' },
    );
    const written = JSON.parse(await readFile(path, 'utf8'));
    expect(written.meta).toEqual({ node: 'v20' });
    expect(written.results).toEqual([
      {
        name: 'concurrency: efficiency C=8',
        benchmark: 'concurrency',
        value: 0.93,
        unit: 'ratio',
        target: { op: '>=', value: 0.9 },
        pass: true,
      },
      {
        name: 'webhook: p99 latency',
        benchmark: 'webhook',
        value: 61,
        unit: 'ms',
        target: { op: '<', value: 50 },
        pass: false,
      },
      {
        name: 'webhook: p50 latency',
        benchmark: 'webhook',
        value: 12,
        unit: 'ms',
        target: null,
        pass: null,
      },
    ]);
  });

  it('checks a strict upper bound strictly', () => {
    expect(row('b', 'm', 50, 'ms', { op: '<', value: 50 }).verdict).toBe('MISS');
    expect(row('b', 'm', 0.9, 'ratio', { op: '>=', value: 0.9 }).verdict).toBe('PASS');
    expect(row('b', 'm', 60, 'count', { op: '<=', value: 60 }).verdict).toBe('PASS');
    expect(row('b', 'm', 61, 'count', { op: '<=', value: 60 }).verdict).toBe('MISS');
  });
});
