import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMeta, readResults } from '../../src/bench/results.js';
import { trialKeyText } from '../../src/bench/shard.js';
import type { TrialRecord } from '../../src/bench/types.js';
import type { CliIO } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

const REPO = path.resolve('.');
const SUITE = 'examples/keep-a-changelog/tests/suite.yml';
const SCRIPT = 'examples/keep-a-changelog/tests/script.yml';
const BAD = 'test/fixtures/bench-bad';
/** What the child gets: enough to run node, and no ANTHROPIC_* of the parent. */
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8' };

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real entry as a user would: a child process in the repo, no TTY. */
function cli(args: string[], env: NodeJS.ProcessEnv = BASE_ENV): Promise<CliRun> {
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

/** The same CLI in-process (`runCli`, what the entry calls), for cheap runs. */
async function inProcess(args: string[]): Promise<CliRun> {
  const out = { stdout: '', stderr: '' };
  const sink = (key: keyof typeof out) =>
    new Writable({
      write(chunk, _encoding, next) {
        out[key] += String(chunk);
        next();
      },
    });
  const io: CliIO = { env: {}, cwd: REPO, stdout: sink('stdout'), stderr: sink('stderr') };
  const code = await runCli(args, io);
  return { code, ...out };
}

/** The path printed after `label: ` on stdout. */
function printedPath(run: CliRun, label: string): string {
  const match = new RegExp(`^${label}: (.+)$`, 'm').exec(run.stdout);
  if (!match?.[1]) throw new Error(`no "${label}:" line in stdout:\n${run.stdout}\n${run.stderr}`);
  return match[1];
}

const keys = (records: TrialRecord[]) => records.map(trialKeyText).sort();
const passes = (records: TrialRecord[]) => records.filter((r) => r.status === 'pass').length;
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$/m;

const SECRET = 'sk-ant-api03-DISTINCTIVE-cli-secret-93f1c7ab';
const ERROR_CASES = [
  {
    name: 'no ANTHROPIC_API_KEY and no --scripted',
    args: ['bench', SUITE, '--out', 'never-written'],
    message: /^error: ANTHROPIC_API_KEY is not set\. .*--scripted <script>/,
  },
  {
    name: 'a suite file that does not exist',
    args: ['bench', 'no/such/suite.yml', '--scripted', SCRIPT, '--out', 'never-written'],
    message: new RegExp(`^error: ${path.join(REPO, 'no/such/suite.yml')}: suite file not found`),
  },
];

let root: string;
/** Every independent CLI run, started together in the first hook (each takes seconds). */
let launched: {
  full: Promise<CliRun>;
  shards: Promise<CliRun[]>;
  errors: Promise<CliRun[]>;
  secrets: Promise<CliRun>;
  claudeCode: Promise<CliRun>;
};

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cli-bench-test-'));
  const bench = (out: string, ...extra: string[]) =>
    cli([
      'bench',
      SUITE,
      '--scripted',
      SCRIPT,
      '--baseline',
      '--out',
      path.join(root, out),
      ...extra,
    ]);
  const withKey = { ...BASE_ENV, ANTHROPIC_API_KEY: SECRET };
  launched = {
    full: bench('full'),
    shards: Promise.all([bench('shard-1', '--shard', '1/2'), bench('shard-2', '--shard', '2/2')]),
    // BASE_ENV: the parent's environment is not passed on, so no ANTHROPIC_API_KEY.
    errors: Promise.all(ERROR_CASES.map((c) => cli(c.args))),
    secrets: cli(
      [
        'bench',
        `${BAD}/secrets.yml`,
        '--scripted',
        `${BAD}/script.yml`,
        '--out',
        path.join(root, 'secrets'),
      ],
      withKey,
    ),
    claudeCode: cli(
      [
        'bench',
        `${BAD}/claude-code.yml`,
        '--scripted',
        `${BAD}/claude-code-script.yml`,
        '--out',
        path.join(root, 'claude-code'),
      ],
      withKey,
    ),
  };
  // Settle them all here, so no rejection goes unobserved while earlier tests run.
  await Promise.allSettled(Object.values(launched));
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('bench on the example suite with the scripted model', () => {
  let full: CliRun;
  let shards: CliRun[];
  let merged: CliRun;
  let compared: CliRun;
  let records: TrialRecord[];
  let summary: string;

  beforeAll(async () => {
    full = await launched.full;
    shards = await launched.shards;
    records = await readResults(printedPath(full, 'results'));
    summary = await readFile(printedPath(full, 'summary'), 'utf8');
    const fullDir = path.dirname(printedPath(full, 'results'));
    const shardDirs = shards.map((s) => path.dirname(printedPath(s, 'results')));
    [merged, compared] = await Promise.all([
      inProcess(['bench', 'merge', ...shardDirs, '--out', path.join(root, 'merged')]),
      inProcess(['bench', 'compare', fullDir, path.join(fullDir, 'results.jsonl')]),
    ]);
  });

  it('exits 0 and prints where the results and the summary are', async () => {
    expect(full.stderr).toBe('');
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/^60 trials, 0 errors, 0 probes excluded$/m);
    const results = printedPath(full, 'results');
    expect(path.dirname(results)).toBe(path.dirname(printedPath(full, 'summary')));
    expect(path.dirname(path.dirname(results))).toBe(path.join(root, 'full'));
    // One valid TrialRecord per line: 5 probes × 2 models × 3 trials × with/without the skill.
    const lines = (await readFile(results, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(60);
    expect(records).toHaveLength(60);
    expect(new Set(keys(records)).size).toBe(60);
    expect(records.filter((r) => r.baseline)).toHaveLength(30);
    expect(records.every((r) => r.status !== 'error' && r.grader !== null)).toBe(true);
  });

  it('prints plain progress lines when stdout is not a terminal', () => {
    const progress = full.stdout.split('\n').filter((l) => l.startsWith('['));
    expect(progress).toHaveLength(60);
    for (const line of progress) {
      expect(line).toMatch(
        /^\[[#.]{20}\] \d+\/60 (PASS|FAIL) \S+ \(claude-\S+ #[123]( baseline)?\)$/,
      );
    }
    expect(progress.at(-1)).toMatch(/^\[#{20}\] 60\/60 /);
    expect(full.stdout).not.toContain('\r');
    expect(full.stdout).not.toContain('\u001b[');
  });

  it('reproduces the scripted outcomes', () => {
    const cell = (probe: string, model: string, baseline = false) =>
      records.filter((r) => r.probe === probe && r.model === model && r.baseline === baseline);
    expect(passes(cell('add-entry/fixed-with-pr', 'claude-sonnet-4-6'))).toBe(2);
    expect(passes(cell('add-entry/fixed-with-pr', 'claude-haiku-4-5'))).toBe(3);
    expect(passes(cell('add-entry/security-fix', 'claude-haiku-4-5'))).toBe(0);
    for (const model of ['claude-sonnet-4-6', 'claude-haiku-4-5']) {
      for (const probe of ['release/cut-minor-release', 'release/cut-patch-release']) {
        expect(cell(probe, model)).toHaveLength(3);
        expect(passes(cell(probe, model))).toBe(0);
      }
    }
    expect(passes(records.filter((r) => r.baseline))).toBe(0);
    expect(records.filter((r) => r.heldout).map((r) => r.probe)).toEqual(
      expect.arrayContaining(['create-file/missing-changelog', 'release/cut-patch-release']),
    );
  });

  it('writes a summary with intervals, the baseline, the per-probe minimum and the isolation', () => {
    const sonnet = summary.slice(summary.indexOf('## Model `claude-sonnet-4-6`'));
    expect(sonnet).toMatch(
      /^\| `add-entry\/fixed-with-pr` \| no \| 3 \| 66\.7% \(2\/3\) \| 20\.8%–93\.9% \| .* \| 0\.0% \(0\/3\) \|$/m,
    );
    expect(sonnet).toMatch(
      /^\| `release\/cut-patch-release` \| yes \| 3 \| 0\.0% \(0\/3\) \| 0\.0%–56\.1% \|/m,
    );
    expect(summary).toMatch(/\| probe \| held-out \| .*\| 95% CI \| .*\| baseline pass rate \|/);
    expect(summary.match(/^\| \*\*minimum\*\* \|/gm)).toHaveLength(2);
    expect(sonnet).toMatch(
      /^\| \*\*minimum\*\* \| +\| +\| 0\.0% \(`release\/cut-minor-release`\)/m,
    );
    expect(summary).toMatch(/^Held-out probes: /m);
    expect(summary).toMatch(/^- Isolation: (bubblewrap|\*\*process)/m);
    expect(summary).toMatch(/Skill vs no skill: 53\.3% with the skill, 0\.0% without/);
  });

  it('splits into shards whose merge is exactly the unsharded bench', async () => {
    for (const shard of shards) expect(shard.code).toBe(0);
    const [one, two] = await Promise.all(shards.map((s) => readResults(printedPath(s, 'results'))));
    expect(one?.length).toBeGreaterThan(0);
    expect(two?.length).toBeGreaterThan(0);
    expect((one?.length ?? 0) + (two?.length ?? 0)).toBe(60);

    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    expect(merged.stdout).toMatch(/^merged 60 trials from 2 shards$/m);
    const mergedSummary = printedPath(merged, 'summary');
    expect(path.dirname(path.dirname(mergedSummary))).toBe(path.join(root, 'merged'));
    const mergedDir = path.dirname(mergedSummary);
    expect(keys(await readResults(mergedDir))).toEqual(keys(records));
    expect((await readMeta(mergedDir)).shard).toBeNull();
    expect(await readFile(mergedSummary, 'utf8')).toMatch(/\| \*\*minimum\*\* \|/);
  });

  it('compares two result sets', () => {
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(/^## Before \/ after \(kept skill → candidate\)$/m);
    expect(compared.stdout).toMatch(
      /^\| `claude-sonnet-4-6` \| `add-entry\/fixed-with-pr` \| no \| 66\.7% \(2\/3\) \| 66\.7% \(2\/3\) \|/m,
    );
    expect(compared.stdout).toMatch(/\*\*Verdict: inconclusive\*\*/);
  });
});

describe('bench errors a user can act on', () => {
  it.each(ERROR_CASES.map((c, i) => ({ ...c, i })))(
    'exits 1 with a clear message for $name',
    async ({ i, message }) => {
      const run = (await launched.errors)[i] as CliRun;
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(STACK_FRAME);
      expect(run.stdout).toBe('');
      await expect(readdir(path.join(REPO, 'never-written'))).rejects.toThrow(/ENOENT/);
    },
  );
});

describe('bench settings a user got wrong', () => {
  // Plain argument checks: run in-process through the same runCli the entry calls.
  it.each([
    {
      name: 'a shard index above the shard count',
      args: ['--shard', '3/2'],
      message: /^error: invalid shard 3\/2: expected i\/n/,
    },
    {
      name: 'an unknown runner',
      args: ['--runner', 'nope'],
      message: /^error: --runner must be one of messages, claude-code \(got 'nope'\)/,
    },
    {
      name: 'an unknown sandbox mode',
      args: ['--sandbox', 'bogus'],
      message: /^error: --sandbox must be one of auto, bubblewrap, process \(got 'bogus'\)/,
    },
  ])('exits 1 with a clear message for $name', async ({ args, message }) => {
    const run = await inProcess([
      'bench',
      SUITE,
      '--scripted',
      SCRIPT,
      '--out',
      'never-written',
      ...args,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stdout).toBe('');
  });
});

describe('bench keeps the API key out of everything it writes', () => {
  let run: CliRun;
  let dir: string;

  beforeAll(async () => {
    run = await launched.secrets;
    dir = path.dirname(printedPath(run, 'results'));
  });

  async function filesUnder(d: string): Promise<string[]> {
    const entries = await readdir(d, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  }

  it('runs the agent that dumps its environment', async () => {
    expect(run.code).toBe(0);
    const [dump] = (await readResults(dir)).filter((r) => r.probe === 'probes/dump-env');
    expect(dump?.status).toBe('pass');
    // The dump really happened, and went both into the workspace and the transcript.
    const kept = await readFile(
      path.join(dir, 'workspaces', 'probes_dump-env__claude-scripted-1__1', 'dump.txt'),
      'utf8',
    );
    expect(kept).toMatch(/^PATH=/m);
    expect(JSON.stringify(dump?.transcript)).toContain('PATH=');
  });

  it('leaves the key out of results, summary, kept workspaces and the output', async () => {
    const files = await filesUnder(dir);
    expect(files.map((f) => path.relative(dir, f))).toEqual(
      expect.arrayContaining(['results.jsonl', 'summary.md', 'meta.json']),
    );
    expect(files.some((f) => f.includes(`${path.sep}workspaces${path.sep}`))).toBe(true);
    for (const file of files) {
      expect(await readFile(file, 'utf8'), file).not.toContain(SECRET);
    }
    expect(run.stdout).not.toContain(SECRET);
    expect(run.stderr).not.toContain(SECRET);
  });
});

describe('bench with the claude-code runner', () => {
  let run: CliRun;
  let dir: string;

  beforeAll(async () => {
    run = await launched.claudeCode;
    dir = path.dirname(printedPath(run, 'results'));
  });

  it('runs the real agent against the scripted model and grades its workspace', async () => {
    expect(run.code).toBe(0);
    const [record] = await readResults(dir);
    expect(record).toMatchObject({
      probe: 'probes/cc-hello',
      runner: 'claude-code',
      status: 'pass',
      stop_reason: 'end_turn',
      finalMessage: 'Created hello.txt with a greeting.',
      grader: { pass: true, reasons: ['hello.txt says "hello from the scripted agent"'] },
    });
    expect(record?.usage.output_tokens).toBeGreaterThan(0);
    expect(await readFile(path.join(dir, 'summary.md'), 'utf8')).toMatch(
      /^\| `probes\/cc-hello` \| no \| 1 \| 100\.0% \(1\/1\) \|/m,
    );
  });

  it('keeps the API key away from the agent, even through /proc', async () => {
    const dump = await readFile(
      path.join(dir, 'workspaces', 'probes_cc-hello__claude-scripted-1__1', 'dump.txt'),
      'utf8',
    );
    // The agent ran the dump and holds only its per-trial gateway key.
    expect(dump).toMatch(/^ANTHROPIC_API_KEY=sk-trial-/m);
    expect(dump).not.toContain(SECRET);
    expect(await readFile(path.join(dir, 'results.jsonl'), 'utf8')).not.toContain(SECRET);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });
});

describe('bench when the model API misbehaves', () => {
  it('prints each retry on stderr with the failure, the attempt and the wait, then completes', async () => {
    const script = path.join(root, 'garbled-first.yml');
    const example = await readFile(SCRIPT, 'utf8');
    await writeFile(
      script,
      example.replace(/^rules:\n/m, 'rules:\n  - { name: garbled, fault: malformed, times: 1 }\n'),
    );
    const run = await inProcess([
      'bench',
      SUITE,
      '--scripted',
      script,
      '--models',
      'claude-sonnet-4-6',
      '--trials',
      '1',
      '--concurrency',
      '1',
      '--out',
      path.join(root, 'garbled'),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^5 trials, 0 errors, 0 probes excluded$/m);
    expect(run.stderr).toMatch(
      /^Anthropic API sent a truncated or invalid response on attempt 1\/6 \(trial call to claude-sonnet-4-6\); retrying in \d\.\d s\.$/m,
    );
  });
});
