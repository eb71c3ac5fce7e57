import { mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
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
import { createSandbox, type Sandbox } from '../../src/bench/sandbox/index.js';

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
