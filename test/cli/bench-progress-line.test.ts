import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { TrialRecord } from '../../src/bench/types.js';
import type { BenchProgress } from '../../src/chain/bench-progress.js';
import { benchProgress } from '../../src/chain/bench-progress.js';
import { benchProgressOutput, PLAIN_PROGRESS_EVERY_MS } from '../../src/cli/bench-progress-line.js';
import type { CliIO } from '../../src/cli/io.js';

function record(status: TrialRecord['status'], cost: number): TrialRecord {
  return { status, cost_usd: cost } as TrialRecord;
}

function terminal(tty: boolean): { io: CliIO; written: () => string } {
  let text = '';
  const stdout = Object.assign(
    new Writable({
      write(chunk, _encoding, next) {
        text += String(chunk);
        next();
      },
    }),
    { isTTY: tty, columns: 200 },
  );
  return { io: { env: {}, cwd: '/', stdout, stderr: stdout }, written: () => text };
}

const at = (done: number, total: number): BenchProgress => ({
  done,
  total,
  passed: done,
  errors: 0,
  cost_usd: done / 10,
  last: record('pass', 0.1),
});

describe('benchProgress', () => {
  it('adds a retry call to the first call: totals grow, passes, errors and cost accumulate', () => {
    const seen: BenchProgress[] = [];
    const progress = benchProgress(1, (p) => seen.push(p));
    const first = progress.call();
    first(record('pass', 0.5), { done: 1, total: 2 });
    first(record('error', 0.25), { done: 2, total: 2 });
    const retry = progress.call();
    retry(record('fail', 0.25), { done: 1, total: 1 });
    expect(seen.map(({ last: _, ...p }) => p)).toEqual([
      { done: 1, total: 2, passed: 1, errors: 0, cost_usd: 1.5 },
      { done: 2, total: 2, passed: 1, errors: 1, cost_usd: 1.75 },
      { done: 3, total: 3, passed: 1, errors: 1, cost_usd: 2 },
    ]);
  });
});

describe('benchProgressOutput', () => {
  it('rewrites one line in place on a terminal and ends it before other output', () => {
    const { io, written } = terminal(true);
    const out = benchProgressOutput(io);
    out.update(at(1, 4));
    out.update(at(2, 4));
    out.interrupt();
    expect(written()).toBe(
      '\r\x1b[2K  06 bench: 1/4 trials, 1 passed, 0 errors, $0.10 spent' +
        '\r\x1b[2K  06 bench: 2/4 trials, 2 passed, 0 errors, $0.20 spent\n',
    );
  });

  it('prints plain lines at most once per interval, and the last trial always', () => {
    const { io, written } = terminal(false);
    let now = 0;
    const out = benchProgressOutput(io, () => now);
    out.update(at(1, 4));
    now = PLAIN_PROGRESS_EVERY_MS - 1;
    out.update(at(2, 4));
    now = PLAIN_PROGRESS_EVERY_MS;
    out.update(at(3, 4));
    now += 1;
    out.update(at(4, 4));
    out.interrupt();
    expect(written()).toBe(
      [
        '  06 bench: 1/4 trials, 1 passed, 0 errors, $0.10 spent',
        '  06 bench: 3/4 trials, 3 passed, 0 errors, $0.30 spent',
        '  06 bench: 4/4 trials, 4 passed, 0 errors, $0.40 spent',
        '',
      ].join('\n'),
    );
  });
});
