import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_PATH, loadConfig, MAX_CONFIG_BYTES, parseConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';
import { InvalidFileError } from '../../src/errors.js';

const FILE = '.github/skill-optimizer.yml';

function errorOf(text: string): InvalidFileError {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    if (error instanceof InvalidFileError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseConfig', () => {
  it('gives every default for an empty file or one holding only comments', () => {
    expect(parseConfig('', FILE)).toEqual(defaultConfig());
    expect(defaultConfig().context_share).toBe(0.5);
    expect(parseConfig('context_share: 0.8', FILE).context_share).toBe(0.8);
    expect(parseConfig('# nothing yet\n', FILE)).toEqual(defaultConfig());
  });

  it('reads a full config', () => {
    const config = parseConfig(
      [
        'labels: { run: optimize, autopilot: optimize-auto }',
        'models:',
        '  executor: claude-haiku-4-5',
        '  evaluator: claude-opus-4-5',
        '  optimizer: claude-opus-4-5',
        '  bench: [claude-haiku-4-5, claude-sonnet-4-6]',
        'runner: claude-code',
        'sandbox: process',
        'trials: 5',
        'concurrency: 2',
        'preset: thorough',
        'threshold: 95',
        'picks: { default_top: 3 }',
        'run_dir: reports/optimizer',
        'upstream: { submit: true }',
        'allowed_bots: [renovate, "dependabot[bot]"]',
        'budget_usd: 12.5',
        'heldout_share: 0',
        'prices:',
        '  claude-haiku-4-5: { input: 1, cache_write: 1.25, cache_read: 0.1, output: 5 }',
      ].join('\n'),
      FILE,
    );
    expect(config).toMatchObject({
      labels: { run: 'optimize', autopilot: 'optimize-auto' },
      models: { executor: 'claude-haiku-4-5', bench: ['claude-haiku-4-5', 'claude-sonnet-4-6'] },
      runner: 'claude-code',
      sandbox: 'process',
      trials: 5,
      concurrency: 2,
      preset: 'thorough',
      threshold: 95,
      picks: { default_top: 3 },
      run_dir: 'reports/optimizer',
      upstream: { submit: true },
      allowed_bots: ['renovate', 'dependabot[bot]'],
      budget_usd: 12.5,
      heldout_share: 0,
      prices: { 'claude-haiku-4-5': { input: 1, output: 5 } },
    });
    expect(config.max_iterations).toBeUndefined();
  });

  it('defaults the bench models to the executor', () => {
    expect(parseConfig('models: { executor: claude-opus-4-5 }', FILE).models).toEqual({
      executor: 'claude-opus-4-5',
      evaluator: 'claude-sonnet-4-6',
      optimizer: 'claude-sonnet-4-6',
      bench: ['claude-opus-4-5'],
    });
  });

  it('points a wrong type at its value with file:line:col', () => {
    const error = errorOf(
      ['trials: 3', 'models:', '  executor: x', '  bench: claude-sonnet-4-6'].join('\n'),
    );
    expect(error.message).toBe(`${FILE}:4:10: models.bench: expected a list of model ids`);
    expect(error.file).toBe(`${FILE}:4:10`);
  });

  it('points an unknown key at the key and lists the allowed ones', () => {
    const error = errorOf(['labels:', '  run: go', '  autopliot: go-auto'].join('\n'));
    expect(error.message).toBe(
      `${FILE}:3:3: labels.autopliot: unknown key (allowed: run, autopilot)`,
    );
    expect(errorOf('treshold: 80').message).toMatch(
      /^\.github\/skill-optimizer\.yml:1:1: treshold: unknown key \(allowed: labels, models, .*threshold/,
    );
  });

  it('lists every problem, one line each, top to bottom', () => {
    const error = errorOf(['preset: fast', 'trials: 1.5', 'heldout_share: 1'].join('\n'));
    expect(error.message.split('\n')).toEqual([
      `${FILE}:1:9: preset: expected one of quick, standard, thorough`,
      `${FILE}:2:9: trials: expected a whole number, got the number 1.5`,
      `${FILE}:3:16: heldout_share: must be less than 1`,
    ]);
  });

  it.each([
    ['threshold: 101', '1:12: threshold: must be at most 100'],
    ['threshold: -1', '1:12: threshold: must be at least 0'],
    ['trials: 0', '1:9: trials: must be at least 1'],
    ['context_share: 0', '1:16: context_share: must be more than 0'],
    ['context_share: 1.5', '1:16: context_share: must be at most 1'],
    ['budget_usd: 0', '1:13: budget_usd: must be more than 0'],
    ['max_iterations: 0', '1:17: max_iterations: must be at least 1'],
    ['runner: docker', '1:9: runner: expected one of messages, claude-code'],
    ['sandbox: bogus', '1:10: sandbox: expected one of auto, bubblewrap, process'],
    [
      'upstream:\n  submit: "yes"',
      '2:11: upstream.submit: expected true or false, got the string "yes"',
    ],
    ['labels:', '1:8: labels: expected a mapping, got an empty value'],
    ['- trials: 3', '1:1: expected a mapping, got a list'],
    ['labels: { run: x, autopilot: x }', '1:9: labels: run and autopilot labels must differ'],
    ['models: { bench: [] }', '1:18: models.bench: list at least one model'],
    ['models: { bench: [a, a] }', '1:18: models.bench: lists a model more than once'],
    [
      'models: { executor: "claude sonnet" }',
      '1:21: models.executor: expected a model id without spaces',
    ],
    [
      'allowed_bots: ["bad login"]',
      '1:16: allowed_bots[0]: expected a GitHub login such as renovate or renovate[bot]',
    ],
    [
      'prices:\n  m: { input: 1, cache_write: 1, cache_read: 1 }',
      '2:6: prices.m.output: missing, expected a number',
    ],
  ])('rejects %j', (text, expected) => {
    expect(errorOf(text).message).toBe(`${FILE}:${expected}`);
  });

  it.each([
    ['../outside', "must not contain '..'"],
    ['runs/../../outside', "must not contain '..'"],
    ['/etc', 'must be relative to the repository root'],
    ['C:/runs', 'must be relative to the repository root'],
    ['runs\\\\x', 'use forward slashes'],
    ['.', "must not contain empty or '.' segments"],
    ['runs//x', "must not contain empty or '.' segments"],
    ['""', 'must not be empty'],
  ])('rejects run_dir %s', (dir, reason) => {
    expect(errorOf(`run_dir: ${dir}`).message).toBe(`${FILE}:1:10: run_dir: ${reason}`);
  });

  it('accepts nested relative run dirs', () => {
    expect(parseConfig('run_dir: .github/runs', FILE).run_dir).toBe('.github/runs');
  });

  it.each([
    ['trials: !!js/function "function () { return 3 }"', '1:9: unsupported tag !!js/function'],
    ['trials: !foo 3', '1:9: unsupported tag !foo'],
    ['run_dir: !!binary aGVsbG8=', '1:10: unsupported tag !!binary'],
    ['allowed_bots: !!set { a }', '1:15: unsupported tag !!set'],
    ['%TAG !e! tag:example.com,2000:\n---\ntrials: !e!n 3', '3:9: unsupported tag tag:example.com'],
  ])('rejects the custom tag in %j', (text, expected) => {
    expect(errorOf(text).message).toContain(`${FILE}:${expected}`);
  });

  it('accepts core-schema tags', () => {
    expect(parseConfig('run_dir: !!str 2024\ntrials: !!int "4"', FILE)).toMatchObject({
      run_dir: '2024',
      trials: 4,
    });
  });

  it('reports YAML syntax errors with their position', () => {
    expect(errorOf('trials: 3\ntrials: 4').message).toBe(`${FILE}:2:1: duplicate key`);
    expect(errorOf('trials: 3\n---\ntrials: 4').message).toMatch(
      /^\.github\/skill-optimizer\.yml:2:1: only one YAML document is allowed/,
    );
    expect(errorOf('allowed_bots: [a\n').message).toMatch(/^\.github\/skill-optimizer\.yml:2:1: /);
  });

  it('lists at most 20 problems and counts the rest', () => {
    const text = Array.from({ length: 25 }, (_, i) => `unknown_${i}: 1`).join('\n');
    const lines = errorOf(text).message.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[19]).toMatch(/^\.github\/skill-optimizer\.yml:20:1: unknown_19: unknown key/);
    expect(lines[20]).toBe('… and 5 more problems');
  });

  it('does not treat << as a merge key', () => {
    expect(errorOf('<<: { trials: 9 }').message).toMatch(/:1:1: <<: unknown key/);
  });

  it('allows a few aliases but rejects an alias bomb', () => {
    expect(
      parseConfig('models:\n  executor: &m claude-opus-4-5\n  bench: [*m]', FILE).models.bench,
    ).toEqual(['claude-opus-4-5']);
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(errorOf(bomb).message).toMatch(
      /^\.github\/skill-optimizer\.yml:\d+:\d+: too many alias/,
    );
  });
});

describe('loadConfig', () => {
  let repo: string;
  beforeEach(async () => {
    repo = await mkdtemp(join(tmpdir(), 'so-config-'));
    await mkdir(join(repo, '.github'));
  });
  afterEach(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('returns the defaults when the file is absent', async () => {
    expect(await loadConfig(repo)).toEqual(defaultConfig());
  });

  it('reads the file when present', async () => {
    await writeFile(join(repo, CONFIG_PATH), 'preset: quick\n');
    expect((await loadConfig(repo)).preset).toBe('quick');
  });

  it('names the file in errors', async () => {
    await writeFile(join(repo, CONFIG_PATH), '# header\ntrials: many\n');
    await expect(loadConfig(repo)).rejects.toThrow(
      `${CONFIG_PATH}:2:9: trials: expected a number, got the string "many"`,
    );
  });

  it('refuses a .yaml file instead of ignoring it', async () => {
    await writeFile(join(repo, '.github/skill-optimizer.yaml'), 'preset: quick\n');
    await expect(loadConfig(repo)).rejects.toThrow(/rename it to \.github\/skill-optimizer\.yml/);
  });

  it('refuses a symlink and an oversized file', async () => {
    await writeFile(join(repo, 'elsewhere.yml'), 'preset: quick\n');
    await symlink(join(repo, 'elsewhere.yml'), join(repo, CONFIG_PATH));
    await expect(loadConfig(repo)).rejects.toThrow(/must be a regular file/);
    await rm(join(repo, CONFIG_PATH));
    await writeFile(join(repo, CONFIG_PATH), `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    await expect(loadConfig(repo)).rejects.toThrow(InvalidFileError);
  });
});
