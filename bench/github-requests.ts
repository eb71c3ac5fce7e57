import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Benchmark, type ResultRow, row } from './report.js';
import { runVitest } from './vitest-child.js';

const NAME = 'github-requests';
const TEST_FILE = 'test/action/happy-path.test.ts';

interface Count {
  run: string;
  requests: number;
  budget: number;
}

/**
 * GitHub REST requests of a whole run, counted by the happy-path Action tests: every request the
 * jobs make goes through nock and is logged. The gated run is a label, four approved gates and a
 * publication (the retry after its injected 502 is left out); autopilot is one labelled job. The
 * budget is the issue's, asserted by the same test.
 */
export const githubRequestsBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-requests-'));
    try {
      const out = join(dir, 'counts.jsonl');
      const code = await runVitest([TEST_FILE, '--reporter=dot'], { REQUEST_BUDGET_OUT: out });
      if (code !== 0) throw new Error(`${TEST_FILE} failed (exit ${code}); run it to see why`);
      const counts = (await readFile(out, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Count);
      const rows: ResultRow[] = [];
      for (const c of counts) {
        log(`  ${c.run}: ${c.requests} requests (budget ${c.budget})`);
        rows.push(row(NAME, c.run, c.requests, 'count', { op: '<=', value: c.budget }));
      }
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
