import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../test/timeout-audit-reporter.js';
import { type Benchmark, row } from './report.js';
import { runVitest } from './vitest-child.js';

const NAME = 'test-suite';

/**
 * `npm test` as CI runs it: the whole Vitest suite with the project's config (three workers),
 * timed from start to exit. The timeout audit reporter writes the tests that used more than a
 * third of their timeout; the target is none.
 */
export const testSuiteBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-suite-'));
    try {
      const auditPath = join(dir, 'audit.json');
      const t0 = performance.now();
      const code = await runVitest(
        ['--reporter=dot', '--reporter=./test/timeout-audit-reporter.ts'],
        { TIMEOUT_AUDIT_OUT: auditPath },
      );
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) throw new Error(`npm test failed (exit ${code}); its figures would mislead`);
      const findings = JSON.parse(await readFile(auditPath, 'utf8')) as Finding[];
      log(`  npm test: ${wallS.toFixed(0)} s`);
      for (const f of findings) {
        log(`  ${(f.durationMs / 1000).toFixed(1)} s of ${f.timeoutMs / 1000} s: ${f.what}`);
      }
      return [
        row(NAME, 'npm test wall time', wallS, 's', { op: '<', value: 240 }),
        row(NAME, 'tests above 1/3 of their timeout', findings.length, 'count', {
          op: '<',
          value: 1,
        }),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
