import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  IncompleteProbeError,
  loadProbe,
  loadSuite,
  probeFileSchema,
  suiteFileSchema,
} from '../../src/bench/suite.js';
import { InvalidFileError, PathEscapeError, SkillOptimizerError } from '../../src/errors.js';

const fixture = path.resolve(import.meta.dirname, '../fixtures/suites/basic');

let root: string;
let suiteDir: string;
let suitePath: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'suite-test-'));
  suiteDir = path.join(root, 'tests');
  suitePath = path.join(suiteDir, 'suite.yml');
  await cp(fixture, suiteDir, { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const write = (rel: string, text: string) => writeFile(path.join(suiteDir, rel), text);
const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof SkillOptimizerError))
    throw new Error(`expected a SkillOptimizerError, got ${String(error)}`);
  return error;
};

describe('loadSuite', () => {
  it('loads the suite, resolves paths and merges probe limits over suite limits over defaults', async () => {
    const suite = await loadSuite(suitePath);
    expect(suite).toMatchObject({
      path: suitePath,
      dir: suiteDir,
      skillDir: path.join(suiteDir, 'skill'),
      models: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
      trials: 2,
      concurrency: 3,
      runner: 'messages',
    });
    expect(suite.probes.map((p) => p.id)).toEqual(['probes/sums-column', 'probes/heldout-mean']);
    const [sums, mean] = suite.probes;
    expect(sums).toEqual({
      id: 'probes/sums-column',
      dir: path.join(suiteDir, 'probes/sums-column'),
      prompt: 'Add up the `amount` column of data.csv and write the total to total.txt.',
      limits: { max_turns: 5, max_output_tokens: 4096, max_total_tokens: 200_000, timeout_s: 120 },
      tags: ['csv', 'arithmetic'],
      heldout: false,
      workspaceDir: path.join(suiteDir, 'probes/sums-column/workspace'),
      graderPath: path.join(suiteDir, 'probes/sums-column/grader.mjs'),
    });
    expect(mean).toMatchObject({
      heldout: true,
      tags: [],
      limits: { ...DEFAULT_LIMITS, max_turns: 12, timeout_s: 120 },
    });
  });

  it('applies defaults for trials, concurrency and runner', async () => {
    await write('suite.yml', 'skill: skill\nmodels: [m]\nprobes: [probes/sums-column]\n');
    const suite = await loadSuite(suitePath);
    expect(suite).toMatchObject({
      trials: 3,
      concurrency: 4,
      runner: 'messages',
      graderDependencies: {},
    });
    expect(suite.probes[0]?.limits).toEqual({ ...DEFAULT_LIMITS, max_turns: 5 });
  });

  it('reads the grader dependencies', async () => {
    await write(
      'suite.yml',
      'skill: skill\nmodels: [m]\nprobes: [probes/sums-column]\ngrader_dependencies:\n  fflate: 0.8.3\n  "@scope/pkg": 1.2.3-beta.1\n',
    );
    expect((await loadSuite(suitePath)).graderDependencies).toEqual({
      fflate: '0.8.3',
      '@scope/pkg': '1.2.3-beta.1',
    });
  });

  it('lets overrides win over the file', async () => {
    const other = path.join(root, 'other-skill');
    const suite = await loadSuite(suitePath, {
      models: ['x'],
      trials: 7,
      concurrency: 1,
      runner: 'claude-code',
      skillDir: other,
    });
    expect(suite).toMatchObject({
      models: ['x'],
      trials: 7,
      concurrency: 1,
      runner: 'claude-code',
      skillDir: other,
    });
  });

  it('rejects invalid overrides', async () => {
    const error = await failure(loadSuite(suitePath, { trials: 0 }));
    expect(error.message).toBe('invalid bench settings: trials: expected a positive integer');
  });

  it('requires models and a skill from the file or the overrides', async () => {
    await write('suite.yml', 'probes: [probes/sums-column]\n');
    expect((await failure(loadSuite(suitePath, { skillDir: root }))).message).toBe(
      `${suitePath}: models: is required (or pass the models to bench)`,
    );
    expect((await failure(loadSuite(suitePath, { models: ['m'] }))).message).toBe(
      `${suitePath}: skill: is required (or pass the skill folder to bench)`,
    );
    await expect(loadSuite(suitePath, { models: ['m'], skillDir: root })).resolves.toMatchObject({
      skillDir: root,
    });
  });

  it.each([
    [
      'unknown key',
      'skill: skill\nmodels: [m]\nprobes: [probes/sums-column]\nmodel: x\n',
      'model: unknown key (line 4)',
    ],
    [
      'bad limits',
      'models: [m]\nlimits:\n  max_turns: 0\nprobes: [probes/sums-column]\n',
      'limits.max_turns: expected a positive integer (line 3)',
    ],
    [
      'unknown limit',
      'models: [m]\nlimits: { turns: 3 }\nprobes: [probes/sums-column]\n',
      'limits.turns: unknown key (line 2)',
    ],
    [
      'fractional trials',
      'models: [m]\ntrials: 1.5\nprobes: [probes/sums-column]\n',
      'trials: expected a positive integer (line 2)',
    ],
    [
      'bad runner',
      'models: [m]\nrunner: codex\nprobes: [probes/sums-column]\n',
      'runner: expected one of: messages, claude-code (line 2)',
    ],
    ['no probes', 'models: [m]\nprobes: []\n', 'probes: list at least one probe (line 2)'],
    ['missing probes', 'models: [m]\n', 'probes: is required (line 1)'],
    [
      'a `..` probe path',
      'models: [m]\nprobes:\n  - probes/sums-column\n  - ../outside\n',
      "probes[1]: must be a folder inside the suite folder: relative, '/'-separated, without '..' (line 4)",
    ],
    [
      'a `..` in the middle',
      'models: [m]\nprobes: [probes/../probes/sums-column]\n',
      'probes[0]: must be a folder inside the suite folder',
    ],
    [
      'an absolute probe path',
      'models: [m]\nprobes: [/etc]\n',
      'probes[0]: must be a folder inside the suite folder',
    ],
    [
      'the suite folder itself',
      'models: [m]\nprobes: [.]\n',
      'probes[0]: must be a folder inside the suite folder',
    ],
    [
      'a probe listed twice',
      'models: [m]\nprobes: [probes/sums-column, probes/sums-column/]\n',
      "probes[1]: 'probes/sums-column/' is listed twice",
    ],
    ['a list at the top', '- a\n', 'expected a YAML mapping'],
    [
      'a grader dependency range',
      'models: [m]\nprobes: [probes/sums-column]\ngrader_dependencies: { fflate: ^0.8.0 }\n',
      'grader_dependencies.fflate: expected an exact version such as 4.4.0 (no ranges, tags, URLs or paths) (line 3)',
    ],
    [
      'a grader dependency that is not a package name',
      'models: [m]\nprobes: [probes/sums-column]\ngrader_dependencies:\n  --registry=x: 1.0.0\n',
      'grader_dependencies.--registry=x: expected a mapping of npm package name (lower case, optional @scope/) to exact version (line 4)',
    ],
  ])('names the file and field for %s', async (_name, text, detail) => {
    await write('suite.yml', text);
    const error = await failure(loadSuite(suitePath, { skillDir: root }));
    expect(error).toBeInstanceOf(InvalidFileError);
    expect(error.message).toContain(`${suitePath}: ${detail}`);
  });

  it('names a probe folder that does not exist', async () => {
    await write(
      'suite.yml',
      'skill: skill\nmodels: [m]\nprobes: [probes/sums-column, probes/nope]\n',
    );
    const error = await failure(loadSuite(suitePath));
    expect(error.message).toBe(
      `${suitePath}: probes[1]: probe folder 'probes/nope' does not exist (looked for ${path.join(suiteDir, 'probes/nope')})`,
    );
  });

  it('refuses a probe folder that is a symlink out of the suite folder', async () => {
    const outside = path.join(root, 'outside');
    await cp(path.join(suiteDir, 'probes/sums-column'), outside, { recursive: true });
    await symlink(outside, path.join(suiteDir, 'probes/escape'));
    await write('suite.yml', 'skill: skill\nmodels: [m]\nprobes: [probes/escape]\n');
    const error = await failure(loadSuite(suitePath));
    expect(error).toBeInstanceOf(PathEscapeError);
    expect(error.message).toContain("probes[0]: 'probes/escape' resolves outside the suite folder");
  });

  it('reports a missing suite file and invalid YAML with its line', async () => {
    const missing = path.join(root, 'nope.yml');
    expect((await failure(loadSuite(missing))).message).toBe(`${missing}: suite file not found`);
    await write('suite.yml', 'models: [m]\nprobes: [a,\n');
    expect((await failure(loadSuite(suitePath))).message).toMatch(
      /suite\.yml: invalid YAML at line \d+/,
    );
  });
});

describe('loadProbe', () => {
  const probeDir = () => path.join(suiteDir, 'probes/sums-column');
  const probeFile = () => path.join(probeDir(), 'probe.yaml');

  it('names a missing grader.mjs and the probe', async () => {
    await rm(path.join(probeDir(), 'grader.mjs'));
    const error = await failure(loadProbe(probeDir(), 'probes/sums-column', DEFAULT_LIMITS));
    expect(error).toBeInstanceOf(IncompleteProbeError);
    expect(error.message).toBe(
      `probe 'probes/sums-column': grader.mjs is missing (expected at ${path.join(probeDir(), 'grader.mjs')})`,
    );
  });

  it('names a missing workspace folder and a missing probe.yaml', async () => {
    await rm(path.join(probeDir(), 'workspace'), { recursive: true });
    await writeFile(path.join(probeDir(), 'workspace'), 'not a folder');
    expect((await failure(loadProbe(probeDir(), 'p', DEFAULT_LIMITS))).message).toMatch(
      /^probe 'p': workspace\/ \(folder\) is missing/,
    );
    await rm(probeFile());
    expect((await failure(loadProbe(probeDir(), 'p', DEFAULT_LIMITS))).message).toMatch(
      /^probe 'p': probe.yaml is missing/,
    );
  });

  it('accepts an empty workspace folder', async () => {
    await rm(path.join(probeDir(), 'workspace'), { recursive: true });
    await mkdir(path.join(probeDir(), 'workspace'));
    await expect(loadProbe(probeDir(), 'p', DEFAULT_LIMITS)).resolves.toMatchObject({ id: 'p' });
  });

  it.each([
    ['an unknown key', 'prompt: x\nheldOut: true\n', 'heldOut: unknown key (line 2)'],
    ['a missing prompt', 'tags: [a]\n', 'prompt: is required (line 1)'],
    ['an empty prompt', 'prompt: "   "\n', 'prompt: expected a non-empty task prompt (line 1)'],
    [
      'bad limits',
      'prompt: x\nlimits:\n  max_turns: -1\n',
      'limits.max_turns: expected a positive integer (line 3)',
    ],
    [
      'a string limit',
      'prompt: x\nlimits: { timeout_s: "10" }\n',
      'limits.timeout_s: expected a positive integer (line 2)',
    ],
    ['a bad heldout', 'prompt: x\nheldout: "yes"\n', 'heldout: expected true or false (line 2)'],
    ['a bad tag', 'prompt: x\ntags: [a, 3]\n', 'tags[1]: expected a tag (line 2)'],
  ])('names the file and field for %s', async (_name, text, detail) => {
    await writeFile(probeFile(), text);
    const error = await failure(loadProbe(probeDir(), 'p', DEFAULT_LIMITS));
    expect(error).toBeInstanceOf(InvalidFileError);
    expect(error.message).toBe(`${probeFile()}: ${detail}`);
  });
});

describe('schemas', () => {
  it('are strict about unknown keys', () => {
    expect(probeFileSchema.safeParse({ prompt: 'x', extra: 1 }).success).toBe(false);
    expect(suiteFileSchema.safeParse({ probes: ['a'], extra: 1 }).success).toBe(false);
    expect(suiteFileSchema.parse({ probes: ['a'] })).toMatchObject({ trials: 3, limits: {} });
  });
});
