import { writeFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

/**
 * Prints every test that used more than a third of its timeout, so a test that would fail on a
 * busy machine shows before it does. A test's share is its duration over its own timeout; the
 * setup before a suite's first test (its `beforeAll` and `beforeEach` hooks, measured as the gap
 * since the module's previous test ended) is held against the hook timeout.
 */

const SAFETY = 3;

export interface Finding {
  what: string;
  durationMs: number;
  timeoutMs: number;
}

export function auditModule(
  module: TestModule,
  testTimeoutMs: number,
  hookTimeoutMs: number,
): Finding[] {
  const findings: Finding[] = [];
  const tests = [...module.children.allTests()].filter((t) => t.diagnostic() !== undefined);
  tests.sort((a, b) => (a.diagnostic()?.startTime ?? 0) - (b.diagnostic()?.startTime ?? 0));
  let previousEnd: number | undefined;
  for (const test of tests) {
    const diagnostic = test.diagnostic();
    if (diagnostic === undefined) continue;
    const name = `${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}`;
    const timeoutMs = test.options.timeout ?? testTimeoutMs;
    if (diagnostic.duration * SAFETY > timeoutMs) {
      findings.push({ what: name, durationMs: diagnostic.duration, timeoutMs });
    }
    if (previousEnd !== undefined && isFirstOfSuite(test)) {
      const setupMs = diagnostic.startTime - previousEnd;
      if (setupMs * SAFETY > hookTimeoutMs) {
        findings.push({
          what: `setup before ${name}`,
          durationMs: setupMs,
          timeoutMs: hookTimeoutMs,
        });
      }
    }
    previousEnd = diagnostic.startTime + diagnostic.duration;
  }
  return findings;
}

function isFirstOfSuite(test: TestCase): boolean {
  const siblings = [...test.parent.children.tests()];
  return siblings[0] === test;
}

export default class TimeoutAuditReporter implements Reporter {
  #testTimeoutMs = 5_000;
  #hookTimeoutMs = 10_000;

  onInit(vitest: { config: { testTimeout: number; hookTimeout: number } }): void {
    this.#testTimeoutMs = vitest.config.testTimeout;
    this.#hookTimeoutMs = vitest.config.hookTimeout;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const findings = modules.flatMap((m) =>
      auditModule(m, this.#testTimeoutMs, this.#hookTimeoutMs),
    );
    const out = process.env.TIMEOUT_AUDIT_OUT;
    if (out !== undefined && out !== '') writeFileSync(out, `${JSON.stringify(findings)}\n`);
    if (findings.length === 0) {
      process.stdout.write(`\ntimeout audit: every test took under 1/${SAFETY} of its timeout\n`);
      return;
    }
    findings.sort((a, b) => b.durationMs / b.timeoutMs - a.durationMs / a.timeoutMs);
    const lines = findings.map(
      (f) =>
        `  ${((f.durationMs / f.timeoutMs) * 100).toFixed(0)}% of ${f.timeoutMs / 1000} s ` +
        `(${(f.durationMs / 1000).toFixed(1)} s): ${f.what}`,
    );
    process.stdout.write(
      `\ntimeout audit: ${findings.length} took more than 1/${SAFETY} of their timeout\n${lines.join('\n')}\n`,
    );
  }
}
