import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../fixtures/chain/harness.js';

/** `npm run demo` as a user runs it: a child process building its own repository. */

const base = mkdtempSync(join(tmpdir(), 'so-demo-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** No ANTHROPIC_* of the parent; git isolated from the machine's configuration. */
function env(): NodeJS.ProcessEnv {
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, '.gitconfig'),
    '[user]\n\tname = Demo Runner\n\temail = d@example.com\n',
  );
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: join(home, '.gitconfig'),
    LANG: 'C.UTF-8',
  };
}

function demo(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--dir', dir],
      { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function git(dir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')}: exit ${code}`)),
    );
  });
}

const BRANCH = 'skill-optimizer/keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';

describe('npm run demo', () => {
  it('runs the whole chain in autopilot: a commit per step, every report, a rising pass rate', async () => {
    const dir = join(base, 'demo');
    const run = await demo(dir);
    expect(run.stderr).not.toMatch(/^error:/m);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('run done: pass rate');

    const subjects = (await git(dir, 'log', '--format=%s', `main..${BRANCH}`))
      .trim()
      .split('\n')
      .reverse();
    const steps = subjects
      .map((s) => /^skill-optimizer\(keep-a-changelog\): (\d\d) ([a-z-]+) — /.exec(s))
      .filter((m) => m !== null)
      .map((m) => `${m[1]} ${m[2]}`);
    expect(steps).toEqual([
      '00 vendor',
      '01 functionality',
      '02 submissions',
      '03 design-tests',
      '04 write-tests',
      '05 validate-tests',
      '06 bench',
      '07 analyze',
      '08 improve',
      '09 validate',
      '06 bench',
    ]);

    const files = (await git(dir, 'ls-tree', '-r', '--name-only', BRANCH, '--', RUN_DIR))
      .trim()
      .split('\n')
      .map((p) => p.slice(RUN_DIR.length + 1));
    for (const report of [
      '01-functionality.md',
      '02-submissions.md',
      '03-test-proposals.md',
      'tests/suite.yml',
      '05-tests-verdict.md',
      '06-bench-summary.md',
      '07-analysis.md',
      '08-improvement-proposal.md',
      '09-validator-verdict.md',
      'report.md',
      'improved-skill/SKILL.md',
    ]) {
      expect(files).toContain(report);
    }

    const report = await git(dir, 'show', `${BRANCH}:${RUN_DIR}/report.md`);
    // Every bench with its trial counts and intervals; the candidate's verdict with its confidence.
    const rows = [
      ...report.matchAll(
        /^\| (\d+) \| `([a-z-]+)` \| (\d+) \| (\d+) \| ([\d.]+)% \[([\d.]+)–([\d.]+)\] \| ([\d.]+)% \[[\d.]+–[\d.]+\] \|.*\| (improved|—) \| yes \|$/gm,
      ),
    ].map((m) => ({
      graded: Number(m[3]),
      rate: Number(m[5]),
      heldout: Number(m[8]),
      verdict: m[9],
    }));
    expect(rows).toEqual([
      { graded: 15, rate: expect.any(Number), heldout: 0, verdict: '—' },
      { graded: 15, rate: expect.any(Number), heldout: 100, verdict: 'improved' },
    ]);
    expect(rows[1]?.rate).toBeGreaterThan(rows[0]?.rate as number);
    expect(report).toContain('with the verdict *improved* at 95% confidence');
    expect(report).toMatch(
      /- Bench 1: improved — held-out pass rate rose beyond noise: 0\.0% \(0\/3\) → 100\.0% \(3\/3\)/,
    );
    expect(report).toMatch(/```mermaid\n%%\{init: .*\}%%\nxychart-beta\n/);
    expect(report).toContain('Legend: **blue line**');
    expect(report).toContain('**Outcome:** pass rate');
    expect(report).toContain('None: no probe literal was found');
    const improved = await git(dir, 'show', `${BRANCH}:${RUN_DIR}/improved-skill/SKILL.md`);
    expect(improved).toContain('## Cutting a release');
    // a general rule: no probe's repository, version or date, and the tool found none
    for (const literal of ['acme/widget', '1.3.0', '1.2.1', '2026-11-20', '2026-10-09']) {
      expect(improved).not.toContain(literal);
    }
    const verdict = await git(dir, 'show', `${BRANCH}:${RUN_DIR}/09-validator-verdict.md`);
    expect(verdict).toMatch(
      /^---\nverdict: approve\nduct_tape_findings: \[\]\nheldout_findings: \[\]\n---/,
    );
  });

  it('refuses a --dir that is not empty', async () => {
    const dir = join(base, 'taken');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'mine\n');
    const run = await demo(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: ${dir} is not empty`);
  });
});
