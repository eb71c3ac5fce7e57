import { cp, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runGrader, smokeCheck } from '../../src/bench/grader.js';
import { createSandbox, type Sandbox } from '../../src/bench/sandbox/index.js';

const fixtures = fileURLToPath(new URL('../fixtures/graders/', import.meta.url));
const grader = (name: string) => join(fixtures, `${name}.mjs`);
const probeDir = join(fixtures, 'probe');

// Graders run in bubblewrap on Linux (CI installs it; no silent fallback), in a process elsewhere.
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await createSandbox(process.platform === 'linux' ? 'bubblewrap' : 'process', {
    secretInReach: false,
  });
});

let workspace: string;
beforeEach(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'so-grade-')));
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function grade(name: string, timeoutMs?: number) {
  const input = {
    graderPath: grader(name),
    workspaceDir: workspace,
    transcript: [],
    finalMessage: 'done',
  };
  return runGrader(sandbox, input, timeoutMs === undefined ? {} : { timeoutMs });
}

async function gradeError(name: string, timeoutMs?: number): Promise<string> {
  const outcome = await grade(name, timeoutMs);
  if (outcome.ok)
    throw new Error(`${name} unexpectedly returned ${JSON.stringify(outcome.result)}`);
  expect(outcome.error).toContain(grader(name));
  return outcome.error;
}

describe('runGrader', () => {
  it('returns a passing result', async () => {
    await writeFile(join(workspace, 'answer.txt'), '42\n');
    expect(await grade('answer-42')).toEqual({
      ok: true,
      result: { pass: true, score: 1, reasons: ['answer.txt says 42'] },
    });
  });

  it('returns a failing result', async () => {
    await writeFile(join(workspace, 'answer.txt'), '7\n');
    expect(await grade('answer-42')).toEqual({
      ok: true,
      result: { pass: false, score: 0, reasons: ['answer.txt says 7, expected 42'] },
    });
  });

  it('passes the transcript and final message, and survives console noise', async () => {
    expect(await grade('noisy')).toEqual({
      ok: true,
      result: { pass: true, score: 0.5, reasons: ['final message was "done"'] },
    });
  });

  it('reports a grader that throws', async () => {
    expect(await gradeError('throws')).toMatch(/threw: Error: grader exploded on purpose/);
  });

  it('reports a grader that hangs as timed out', async () => {
    expect(await gradeError('hangs', 1000)).toMatch(/timed out after 1s/);
  });

  it('reports a grader that prints garbage and never returns', async () => {
    expect(await gradeError('garbage')).toMatch(/finished without returning a result/);
  });

  it('reports a grader that exits non-zero', async () => {
    expect(await gradeError('exits-3')).toMatch(/exited with code 3 without returning a result/);
  });

  it('reports a result of the wrong shape', async () => {
    const error = await gradeError('wrong-shape');
    expect(error).toMatch(/returned the wrong shape/);
    expect(error).toContain('"passed":true');
  });

  it('reports a module without a default-exported grade function', async () => {
    expect(await gradeError('no-default')).toMatch(
      /does not default-export a grade function \(its default export is undefined\)/,
    );
  });

  it('reports a grader that fails to load or returns something that is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'so-graders-'));
    try {
      const broken = join(dir, 'broken.mjs');
      await writeFile(broken, 'export default async function grade( {\n');
      const bigint = join(dir, 'bigint.mjs');
      await writeFile(
        bigint,
        'export default async () => ({ pass: true, reasons: [], score: 1n });\n',
      );
      const run = (graderPath: string) =>
        runGrader(sandbox, {
          graderPath,
          workspaceDir: workspace,
          transcript: [],
          finalMessage: '',
        });
      expect(await run(broken)).toEqual({
        ok: false,
        error: expect.stringMatching(new RegExp(`^grader ${broken} failed to load: SyntaxError`)),
      });
      expect(await run(bigint)).toEqual({
        ok: false,
        error: expect.stringMatching(
          new RegExp(`^grader ${bigint} returned a value that is not JSON`),
        ),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing grader file', async () => {
    expect(await gradeError('does-not-exist')).toMatch(/not found/);
  });

  it('runs with a scrubbed environment', async () => {
    process.env.SO_TEST_SECRET = 'grader-env-secret';
    try {
      const outcome = await runGrader(sandbox, {
        graderPath: grader('snoop'),
        workspaceDir: workspace,
        transcript: [],
        finalMessage: JSON.stringify({ secretFiles: [], pids: [] }),
      });
      if (!outcome.ok) throw new Error(outcome.error);
      expect(outcome.result.reasons[0]).toMatch(/^env: \{.*"PATH"/);
      expect(outcome.result.reasons.join('\n')).not.toContain('grader-env-secret');
    } finally {
      delete process.env.SO_TEST_SECRET;
    }
  });
});

describe('smokeCheck', () => {
  const probe = (graderName: string, dir = probeDir) => ({
    id: 'answers/forty-two',
    dir,
    graderPath: grader(graderName),
  });

  it('accepts a grader that passes smoke/good and fails smoke/bad and smoke/empty', async () => {
    expect(await smokeCheck(sandbox, probe('answer-42'))).toEqual({ ok: true, reasons: [] });
  });

  it('rejects a grader that passes everything, naming smoke/bad and smoke/empty', async () => {
    expect(await smokeCheck(sandbox, probe('passes-everything'))).toEqual({
      ok: false,
      reasons: [
        'answers/forty-two/smoke/bad: grader passed it (expected fail)',
        'answers/forty-two/smoke/empty: grader passed it (expected fail)',
      ],
    });
  });

  it('names smoke/good when the grader fails it, and grader errors per fixture', async () => {
    const report = await smokeCheck(sandbox, probe('throws'));
    expect(report.ok).toBe(false);
    expect(report.reasons).toHaveLength(3);
    expect(report.reasons[0]).toMatch(
      /^answers\/forty-two\/smoke\/good: grader .*throws\.mjs threw/,
    );
  });

  it('reports missing smoke dirs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'so-probe-'));
    try {
      await cp(join(probeDir, 'smoke', 'good'), join(dir, 'smoke', 'good'), { recursive: true });
      const report = await smokeCheck(sandbox, probe('answer-42', dir));
      expect(report.ok).toBe(false);
      expect(report.reasons).toEqual([
        expect.stringMatching(/^answers\/forty-two\/smoke\/bad: missing/),
        expect.stringMatching(/^answers\/forty-two\/smoke\/empty: missing/),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing grader', async () => {
    const report = await smokeCheck(sandbox, probe('does-not-exist'));
    expect(report).toEqual({ ok: false, reasons: [expect.stringMatching(/grader .* not found/)] });
  });

  it('grades copies: a grader that deletes its workspace leaves the fixtures intact', async () => {
    const report = await smokeCheck(sandbox, probe('vandal'));
    expect(report.reasons).toEqual([expect.stringMatching(/smoke\/good: grader failed it/)]);
    expect(await readFile(join(probeDir, 'smoke', 'good', 'answer.txt'), 'utf8')).toBe('42\n');
    expect(await readdir(join(probeDir, 'smoke', 'empty'))).toEqual(['.gitkeep']);
  });
});
