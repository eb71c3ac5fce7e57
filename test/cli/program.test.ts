import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { runCli } from '../../src/cli/program.js';

/** The command line's own surface: what `--help` loads, `--version`, examples in every help. */

const ROOT = join(import.meta.dirname, '..', '..');
const RECORDER = join(ROOT, 'test', 'fixtures', 'cli', 'record-modules.mjs');

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await runCli(args, { env: {}, cwd: ROOT, stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

const logDir = mkdtempSync(join(tmpdir(), 'so-modules-'));
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

/** Runs the real entry as a child and returns the module URLs it resolved. */
function modulesLoadedBy(args: string[]): string[] {
  const log = join(logDir, `${args.join('_').replace(/\W/g, '')}.log`);
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', RECORDER, 'src/cli/main.ts', ...args],
    { cwd: ROOT, env: { ...process.env, MODULE_LOG: log }, encoding: 'utf8' },
  );
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const HEAVY = ['@anthropic-ai/sdk', '@anthropic-ai/claude-agent-sdk', 'probot', 'octokit'];

describe('start-up', () => {
  it('--help loads commander but none of the SDKs, probot or Octokit', () => {
    const urls = modulesLoadedBy(['--help']);
    // The recorder sees packages at all: commander is what prints the help.
    expect(urls.some((u) => u.includes('/node_modules/commander/'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/src/cli/program.ts'))).toBe(true);
    const heavy = urls.filter((u) => HEAVY.some((name) => u.includes(`/node_modules/${name}`)));
    expect(heavy).toEqual([]);
    // A command's own module stays unloaded until the command runs.
    expect(urls.filter((u) => /\/src\/cli\/(chain|bench|doctor)-command\.ts$/.test(u))).toEqual([]);
  });
});

describe('--version', () => {
  it('prints the version from package.json', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await cli([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${packageJson.version}\n`);
    }
  });
});

describe('examples', () => {
  const COMMANDS = [
    [],
    ['bench'],
    ['bench', 'merge'],
    ['bench', 'compare'],
    ['run'],
    ['doctor'],
    ['status'],
    ['approve'],
    ['answer'],
    ['pick'],
    ['rerun'],
    ['stop'],
  ];

  it.each(COMMANDS.map((path) => [path.join(' ') || 'skill-optimizer', path] as const))(
    '`%s --help` ends with examples of that command',
    async (_name, path) => {
      const run = await cli([...path, '--help']);
      expect(run.code).toBe(0);
      const [, examples] = run.stdout.split('\nExamples:\n');
      expect(examples).toBeDefined();
      const lines = (examples ?? '').trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      const prefix = ['$ skill-optimizer', ...path].join(' ');
      for (const line of lines) expect(line.trim().startsWith(prefix)).toBe(true);
    },
  );

  it('covers every command the program has', async () => {
    const run = await cli(['--help']);
    const listed = [...run.stdout.matchAll(/^ {2}(\w+)\b/gm)].map((m) => m[1]);
    const named = new Set(COMMANDS.map((c) => c[0]).filter(Boolean));
    expect(listed.filter((name) => name !== 'help')).toEqual(expect.arrayContaining([...named]));
    for (const name of listed) if (name !== 'help') expect(named.has(name)).toBe(true);
  });
});

describe('bench-results/', () => {
  it('the default `bench --out` folder is ignored by git and by Biome', () => {
    const ignored = spawnSync(
      'git',
      ['check-ignore', '--no-index', 'bench-results/x/results.jsonl'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(ignored.status).toBe(0);
    const biome = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8')) as {
      files: { includes: string[] };
    };
    expect(biome.files.includes).toContain('!**/bench-results');
  });
});
