import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareGraderDependencies } from '../../src/bench/grader-deps.js';
import { readResults } from '../../src/bench/results.js';
import { loadSuite } from '../../src/bench/suite.js';

const REPO = path.resolve('.');
const SUITE = 'examples/csv-to-xlsx/tests/suite.yml';
const SCRIPT = 'examples/csv-to-xlsx/tests/script.yml';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

/**
 * The package folder of a devDependency, for installing grader dependencies without the network.
 * The example's grader imports fflate; the repo's devDependencies carry the same version.
 */
function localPackage(name: string): string {
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch (error) {
    throw new Error(
      `${name} must be in the repo's devDependencies (at the version the example suite pins) so this test can install it offline`,
      { cause: error },
    );
  }
}

describe('bench on the csv-to-xlsx example: a document skill graded with a dependency', () => {
  let home: string;
  let out: string;
  let env: NodeJS.ProcessEnv;
  let run: CliRun;
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'so-doc-home-'));
    out = await mkdtemp(path.join(tmpdir(), 'so-doc-out-'));
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
    // The bench's own cache, filled from node_modules instead of the registry.
    const suite = await loadSuite(path.join(REPO, SUITE));
    await prepareGraderDependencies(suite.graderDependencies ?? {}, {
      cacheDir: path.join(home, '.cache', 'skill-optimizer', 'grader-deps'),
      install: async (dir, dependencies) => {
        for (const name of Object.keys(dependencies)) {
          await cp(localPackage(name), path.join(dir, 'node_modules', name), { recursive: true });
        }
      },
    });
    run = await cli(
      ['bench', SUITE, '--scripted', SCRIPT, '--baseline', '--out', out, '--sandbox', 'auto'],
      env,
    );
  }, 120_000);
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  });

  it('grades the binary workbooks the agent produced: the skill passes, the baseline fails', async () => {
    expect(run.stderr).not.toContain('installing grader dependencies');
    expect(run.code, run.stderr).toBe(0);
    const results = /^results: (.+)$/m.exec(run.stdout)?.[1] ?? '';
    const records = await readResults(path.dirname(results));
    expect(records.map((r) => [r.baseline, r.status]).sort()).toEqual([
      [false, 'pass'],
      [false, 'pass'],
      [true, 'fail'],
      [true, 'fail'],
    ]);
    const baseline = records.find((r) => r.baseline);
    expect(baseline?.grader?.reasons).toContain(
      'amount for South is text "980.00", expected the number 980',
    );
    const kept = path.join(
      path.dirname(results),
      'workspaces',
      'export_sales-report__claude-sonnet-4-6__1',
      'report.xlsx',
    );
    expect((await readFile(kept)).subarray(0, 4)).toEqual(Buffer.from('PK\u0003\u0004', 'latin1'));
  });
});

describe('bench on a suite whose grader dependencies cannot be installed', () => {
  it('stops with what npm said when the dependencies cannot be installed', async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), 'so-doc-home-'));
    try {
      const failed = await cli(
        ['bench', SUITE, '--scripted', SCRIPT, '--out', path.join(fresh, 'out')],
        {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          LANG: 'C.UTF-8',
          HOME: fresh,
          npm_config_offline: 'true',
          npm_config_cache: path.join(fresh, 'npm-cache'),
          npm_config_registry: 'http://127.0.0.1:9/',
        },
      );
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain('installing grader dependencies fflate@0.8.3');
      expect(failed.stderr).toMatch(/error: npm install of the grader dependencies failed: /);
      expect(failed.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 120_000);
});
