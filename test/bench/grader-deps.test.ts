import { copyFile, mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runGrader } from '../../src/bench/grader.js';
import {
  type DependencyInstaller,
  GraderDependencyError,
  npmInstaller,
  prepareGraderDependencies,
} from '../../src/bench/grader-deps.js';
import { runBench } from '../../src/bench/run-bench.js';
import { createSandbox, type Sandbox } from '../../src/bench/sandbox/index.js';
import { loadSuite } from '../../src/bench/suite.js';
import type { Runner } from '../../src/bench/types.js';
import { zeroUsage } from '../../src/model/usage.js';

const graderPath = fileURLToPath(
  new URL('../fixtures/graders/deps/uses-dependency.mjs', import.meta.url),
);

/** Writes one small ESM package into `dir/node_modules`, the way npm would leave it. */
async function writePackage(dir: string, name: string, version: string, word: string) {
  const pkg = join(dir, 'node_modules', name);
  await mkdir(pkg, { recursive: true });
  await writeFile(
    join(pkg, 'package.json'),
    JSON.stringify({ name, version, type: 'module', exports: './index.js' }),
  );
  await writeFile(join(pkg, 'index.js'), `export const expectedWord = ${JSON.stringify(word)};\n`);
}

/** An installer that lays out the packages asked for from a local table, and counts its calls. */
function localInstaller(words: Record<string, string>) {
  const calls: string[][] = [];
  const install: DependencyInstaller = async (dir, dependencies) => {
    calls.push(Object.keys(dependencies));
    for (const [name, version] of Object.entries(dependencies)) {
      await writePackage(dir, name, version, words[name] ?? 'none');
    }
  };
  return { install, calls };
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await createSandbox(process.platform === 'linux' ? 'bubblewrap' : 'process', {
    secretInReach: false,
  });
});

let cacheDir: string;
let workspace: string;
beforeEach(async () => {
  cacheDir = await realpath(await mkdtemp(join(tmpdir(), 'so-deps-cache-')));
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'so-deps-ws-')));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
  await rm(workspace, { recursive: true, force: true });
});

describe('prepareGraderDependencies', () => {
  it('has nothing to install for an empty set', async () => {
    const { install, calls } = localInstaller({});
    expect(await prepareGraderDependencies({}, { cacheDir, install })).toBeNull();
    expect(calls).toEqual([]);
  });

  it('installs a set once and reuses it; another set gets its own folder', async () => {
    const { install, calls } = localInstaller({ 'so-fixture-words': 'forty-two' });
    const first = await prepareGraderDependencies(
      { 'so-fixture-words': '1.0.0' },
      { cacheDir, install },
    );
    const again = await prepareGraderDependencies(
      { 'so-fixture-words': '1.0.0' },
      { cacheDir, install },
    );
    const other = await prepareGraderDependencies(
      { 'so-fixture-words': '1.0.1' },
      { cacheDir, install },
    );
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(calls).toHaveLength(2);
    // Only finished installs stay: no scratch folder is left behind.
    expect((await readdir(cacheDir)).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('refuses an install that left a package out or at another version, and caches nothing', async () => {
    const missing: DependencyInstaller = async () => {};
    await expect(
      prepareGraderDependencies({ 'so-fixture-words': '1.0.0' }, { cacheDir, install: missing }),
    ).rejects.toThrow(/grader dependency so-fixture-words@1.0.0 was not installed/);
    const wrong: DependencyInstaller = (dir) => writePackage(dir, 'so-fixture-words', '2.0.0', 'x');
    await expect(
      prepareGraderDependencies({ 'so-fixture-words': '1.0.0' }, { cacheDir, install: wrong }),
    ).rejects.toThrow(/installed version 2.0.0, expected 1.0.0/);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('refuses names and versions npm would read as options, paths or ranges', async () => {
    const { install, calls } = localInstaller({});
    const sets: Record<string, string>[] = [
      { '--registry=http://evil': '1.0.0' },
      { lodash: '^4.17.0' },
      { lodash: 'file:../x' },
      { '../up': '1.0.0' },
    ];
    for (const dependencies of sets) {
      await expect(prepareGraderDependencies(dependencies, { cacheDir, install })).rejects.toThrow(
        GraderDependencyError,
      );
    }
    expect(calls).toEqual([]);
  });

  it('reports a failed npm install with what npm said', async () => {
    const saved = { ...process.env };
    // Offline with an empty cache: npm must fail without touching the network.
    process.env.npm_config_offline = 'true';
    process.env.npm_config_cache = join(cacheDir, 'npm-cache');
    process.env.npm_config_registry = 'http://127.0.0.1:9/';
    try {
      const error = await prepareGraderDependencies(
        { 'so-fixture-words': '1.0.0' },
        { cacheDir: join(cacheDir, 'sets'), install: npmInstaller },
      ).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GraderDependencyError);
      expect((error as Error).message).toMatch(
        /^npm install of the grader dependencies failed: .*(ENOTCACHED|offline|so-fixture-words)/s,
      );
    } finally {
      process.env = saved;
    }
  }, 30_000);
});

describe('a grader importing a dependency', () => {
  it('resolves it from the installed set, read-only, and not without it', async () => {
    await writeFile(join(workspace, 'answer.txt'), 'forty-two\n');
    const { install } = localInstaller({ 'so-fixture-words': 'forty-two' });
    const dependenciesDir = await prepareGraderDependencies(
      { 'so-fixture-words': '1.0.0' },
      { cacheDir, install },
    );
    const input = { graderPath, workspaceDir: workspace, transcript: [], finalMessage: '' };
    expect(await runGrader(sandbox, { ...input, dependenciesDir })).toEqual({
      ok: true,
      result: { pass: true, reasons: ['answer.txt says forty-two'] },
    });
    const without = await runGrader(sandbox, input);
    expect(without.ok).toBe(false);
    expect(without.ok ? '' : without.error).toMatch(/failed to load: .*so-fixture-words/s);
  });

  it('still reports a missing relative import as the grader’s own error', async () => {
    const { install } = localInstaller({ 'so-fixture-words': 'x' });
    const dependenciesDir = await prepareGraderDependencies(
      { 'so-fixture-words': '1.0.0' },
      { cacheDir, install },
    );
    const broken = join(workspace, 'grader.mjs');
    await writeFile(
      broken,
      "import './nowhere.mjs';\nexport default () => ({ pass: true, reasons: [] });\n",
    );
    const outcome = await runGrader(sandbox, {
      graderPath: broken,
      workspaceDir: workspace,
      transcript: [],
      finalMessage: '',
      dependenciesDir,
    });
    expect(outcome.ok ? '' : outcome.error).toMatch(/failed to load: .*nowhere\.mjs/s);
  });
});

describe('runBench with grader dependencies', () => {
  /** A suite of one probe whose grader imports `so-fixture-words`, and an agent answering `word`. */
  async function benchOnce(word: string, install: DependencyInstaller, log: string[]) {
    const dir = join(workspace, 'suite');
    const probe = join(dir, 'words', 'say-it');
    for (const sub of ['skill', 'words/say-it/workspace', 'words/say-it/smoke/empty']) {
      await mkdir(join(dir, sub), { recursive: true });
    }
    await writeFile(
      join(dir, 'skill', 'SKILL.md'),
      '---\nname: words\ndescription: Words.\n---\nSay it.\n',
    );
    await writeFile(
      join(dir, 'suite.yml'),
      'skill: skill\nmodels: [m]\ntrials: 1\nprobes: [words/say-it]\ngrader_dependencies: { so-fixture-words: 1.0.0 }\n',
    );
    await writeFile(join(probe, 'probe.yaml'), 'prompt: Write the word to answer.txt.\n');
    await copyFile(graderPath, join(probe, 'grader.mjs'));
    for (const [fixture, text] of [
      ['good', 'forty-two'],
      ['bad', 'seven'],
    ] as const) {
      await mkdir(join(probe, 'smoke', fixture), { recursive: true });
      await writeFile(join(probe, 'smoke', fixture, 'answer.txt'), `${text}\n`);
    }
    const runner: Runner = {
      name: 'messages',
      async runTrial(input) {
        await writeFile(join(input.workspaceDir, 'answer.txt'), `${word}\n`);
        return { transcript: [], finalMessage: 'done', usage: zeroUsage(), stopReason: 'end_turn' };
      },
    };
    return runBench(
      {
        suite: await loadSuite(join(dir, 'suite.yml')),
        baseline: false,
        outRoot: join(workspace, 'out'),
        graderDepsCache: cacheDir,
      },
      {
        runner,
        sandbox,
        costOf: () => 0,
        log: (line) => log.push(line),
        installDependencies: install,
      },
    );
  }

  it('installs the set once, smoke-checks and grades with it, and says so', async () => {
    const { install, calls } = localInstaller({ 'so-fixture-words': 'forty-two' });
    const log: string[] = [];
    const first = await benchOnce('forty-two', install, log);
    expect(first.excluded).toEqual([]);
    expect(first.records.map((r) => r.status)).toEqual(['pass']);
    const second = await benchOnce('seven', install, log);
    expect(second.records.map((r) => [r.status, r.grader?.reasons])).toEqual([
      ['fail', ['answer.txt says seven, expected forty-two']],
    ]);
    expect(calls).toHaveLength(1);
    const [set] = await readdir(cacheDir);
    expect(log.filter((l) => l.startsWith('installing grader dependencies'))).toEqual([
      `installing grader dependencies so-fixture-words@1.0.0 into ${join(cacheDir, set ?? '')}`,
    ]);
  });

  it('runs no trial when the set cannot be installed', async () => {
    const broken: DependencyInstaller = async () => {
      throw new GraderDependencyError('npm install of the grader dependencies failed: E404');
    };
    await expect(benchOnce('forty-two', broken, [])).rejects.toThrow(/E404/);
    expect(await readdir(workspace)).not.toContain('out');
  });
});
