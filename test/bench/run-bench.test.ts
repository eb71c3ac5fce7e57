import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResults } from '../../src/bench/results.js';
import { type BenchResult, runBench } from '../../src/bench/run-bench.js';
import { createMessagesRunner } from '../../src/bench/runners/messages.js';
import { createSandbox, type Sandbox } from '../../src/bench/sandbox/index.js';
import { loadSuite, type SuiteOverrides } from '../../src/bench/suite.js';
import type { Runner, TrialRecord } from '../../src/bench/types.js';
import { InvalidFileError } from '../../src/errors.js';
import { createModelClient } from '../../src/model/client.js';
import { costOf } from '../../src/model/pricing.js';
import { loadScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';

const FIXTURE = path.resolve('test/fixtures/bench-bad');
/** Small enough that the disk-heavy agent's third 40 kB append crosses it; the others stay far below. */
const MAX_WORKSPACE_BYTES = 100_000;
/** Short enough that the hanging grader is cut off quickly, long enough for node to start in bwrap. */
const GRADER_TIMEOUT_MS = 5_000;

let root: string;
let server: ScriptedServer;
let sandbox: Sandbox;
let runner: Runner;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'run-bench-test-'));
  server = await startScriptedServer({
    script: await loadScript(path.join(FIXTURE, 'script.yml')),
  });
  sandbox = await createSandbox('auto', { secretInReach: false });
  // Two attempts with millisecond waits: a 529 storm outlasts the client quickly.
  const client = createModelClient({
    apiKey: 'test-key',
    baseURL: server.url,
    maxAttempts: 2,
    baseDelayMs: 1,
    maxWaitMs: 5,
  });
  runner = createMessagesRunner({ model: client, sandbox, maxWorkspaceBytes: MAX_WORKSPACE_BYTES });
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

async function bench(
  suiteFile: string,
  overrides: SuiteOverrides = {},
  suiteDir = FIXTURE,
): Promise<BenchResult & { summary: string }> {
  const suite = await loadSuite(path.join(suiteDir, suiteFile), overrides);
  const result = await runBench(
    {
      suite,
      baseline: false,
      outRoot: await mkdtemp(path.join(root, 'out-')),
      graderTimeoutMs: GRADER_TIMEOUT_MS,
    },
    { runner, sandbox, costOf },
  );
  return { ...result, summary: await readFile(result.summaryPath, 'utf8') };
}

function only(records: TrialRecord[], probe: string): TrialRecord[] {
  return records.filter((r) => r.probe === probe);
}

function toolResults(record: TrialRecord): Array<Record<string, unknown>> {
  return record.transcript.flatMap((m) =>
    Array.isArray(m.content) ? m.content.filter((b) => b.type === 'tool_result') : [],
  );
}

describe('runBench with broken graders', () => {
  let result: BenchResult & { summary: string };

  beforeAll(async () => {
    result = await bench('graders.yml');
  });

  it('excludes every probe whose grader fails the smoke check, with the reason', () => {
    const reasons = Object.fromEntries(result.excluded.map((e) => [e.probe, e.reasons.join('; ')]));
    expect(Object.keys(reasons).sort()).toEqual([
      'probes/grader-exits',
      'probes/grader-garbage',
      'probes/grader-hangs',
      'probes/grader-throws',
    ]);
    expect(reasons['probes/grader-throws']).toMatch(
      /probes\/grader-throws\/smoke\/good: grader .*grader\.mjs threw: Error: grader exploded on purpose/,
    );
    expect(reasons['probes/grader-hangs']).toMatch(
      /probes\/grader-hangs\/smoke\/good: grader .* timed out after 5s/,
    );
    // The hanging grader answers the other two fixtures (wrongly, as expected): only good is listed.
    expect(reasons['probes/grader-hangs']).not.toMatch(/smoke\/(bad|empty)/);
    expect(reasons['probes/grader-garbage']).toMatch(/finished without returning a result/);
    expect(reasons['probes/grader-exits']).toMatch(/exited with code 3 without returning a result/);
  });

  it('runs no trial of an excluded probe and names each exclusion in summary.md', async () => {
    expect(result.records.map((r) => r.probe).sort()).toEqual([
      'probes/grader-late-throw',
      'probes/ok',
    ]);
    expect(await readResults(result.dir)).toHaveLength(2);
    for (const probe of ['grader-exits', 'grader-garbage', 'grader-hangs', 'grader-throws']) {
      expect(result.summary).toMatch(
        new RegExp(`Excluded probe \`probes/${probe}\`: its grader failed the smoke check — .+`),
      );
    }
    expect(result.summary).toContain('grader exploded on purpose');
  });

  it('records a grader that throws on the real workspace as an error naming the probe', () => {
    const [late] = only(result.records, 'probes/grader-late-throw');
    expect(late?.status).toBe('error');
    expect(late?.grader).toBeNull();
    expect(late?.error).toMatch(
      /^probe 'probes\/grader-late-throw' \(claude-scripted-1, trial 1\): grader .*grader\.mjs threw: Error: grader tripped over trap\.txt/,
    );
    // The agent itself finished normally; only the grading broke.
    expect(late?.stop_reason).toBe('end_turn');
    const [ok] = only(result.records, 'probes/ok');
    expect(ok?.status).toBe('pass');
    expect(ok?.grader?.reasons).toEqual(['answer.txt says "42"']);
  });
});

describe('runBench with misbehaving agents', () => {
  let result: BenchResult & { summary: string };

  beforeAll(async () => {
    result = await bench('agents.yml');
  });

  it('completes every planned trial and writes every record', async () => {
    expect(result.records).toHaveLength(10);
    expect(await readResults(result.dir)).toHaveLength(10);
    expect(result.excluded).toEqual([]);
  });

  it('records trials caught in a 529 storm as errors while the others still pass', () => {
    const storm = only(result.records, 'probes/storm');
    expect(storm.map((r) => r.status)).toEqual(['error', 'error']);
    for (const r of storm) {
      expect(r.error).toMatch(
        /^probe 'probes\/storm' \(claude-scripted-1, trial \d\): model call failed: Anthropic API overloaded \(529\) after 2 attempts/,
      );
      expect(r.grader).toBeNull();
    }
    expect(only(result.records, 'probes/ok').map((r) => r.status)).toEqual(['pass', 'pass']);
    expect(result.summary).toMatch(/\| `probes\/storm` \| no \| 2 \| – \|.* \| 2 \|/);
  });

  it('answers malformed tool calls with is_error tool results and lets the trial go on', () => {
    for (const r of only(result.records, 'probes/malformed-tools')) {
      expect(r.status).toBe('pass');
      expect(r.stop_reason).toBe('end_turn');
      const results = toolResults(r);
      expect(results.map((b) => b.is_error === true)).toEqual([true, true, false]);
      expect(results[0]?.content).toBe("Unknown tool 'summon_dragon'.");
      expect(results[1]?.content).toMatch(/^Invalid input for write_file: content: /);
      expect(results[2]?.content).toBe('Wrote 3 bytes to answer.txt.');
    }
  });

  it('stops an agent that never stops at max_turns and counts it as its own fail, ungraded', () => {
    for (const r of only(result.records, 'probes/never-stops')) {
      expect(r.stop_reason).toBe('max_turns');
      expect(r.status).toBe('fail');
      expect(r.error).toBeNull();
      expect(r.grader).toBeNull();
      // probe.yaml sets max_turns: 3 (over the suite's 6).
      expect(r.transcript.filter((m) => m.role === 'assistant')).toHaveLength(3);
    }
  });

  it('ends a disk-heavy agent when the workspace grows past the cap', () => {
    for (const r of only(result.records, 'probes/disk-heavy')) {
      expect(r.status).toBe('error');
      expect(r.stop_reason).toBe('error');
      expect(r.error).toMatch(
        /^probe 'probes\/disk-heavy' \(claude-scripted-1, trial \d\): workspace grew to 120,000 bytes, over the limit of 100,000 bytes for a trial$/,
      );
      // 40 kB per turn: the third append crosses 100 kB.
      expect(r.transcript.filter((m) => m.role === 'assistant')).toHaveLength(3);
    }
  });
});

describe('runBench with bad probe or skill files', () => {
  it('records a workspace symlink pointing outside the probe as an error naming the probe', async () => {
    const copy = await mkdtemp(path.join(root, 'suite-'));
    await cp(FIXTURE, copy, { recursive: true });
    await symlink('/etc', path.join(copy, 'probes/ok/workspace/escape'));

    const result = await bench('ok.yml', {}, copy);

    expect(result.records).toHaveLength(1);
    const [ok] = result.records;
    expect(ok?.status).toBe('error');
    expect(ok?.error).toMatch(
      /^probe 'probes\/ok' \(claude-scripted-1, trial 1\): workspace could not be prepared: probe file escape is a symlink to \/etc, outside /,
    );
    // Nothing ran for it: no model call, no transcript.
    expect(ok?.transcript).toEqual([]);
  });

  it.each([
    ['missing-description', /SKILL\.md: description: is required/],
    ['no-frontmatter', /SKILL\.md: no frontmatter block/],
  ])(
    'rejects a skill with bad SKILL.md frontmatter (%s) before running anything',
    async (name, message) => {
      const skillDir = path.resolve('test/fixtures/skills', name);
      const requests = server.requests.length;
      const out = await mkdtemp(path.join(root, 'out-'));
      const suite = await loadSuite(path.join(FIXTURE, 'ok.yml'), { skillDir });

      const run = runBench({ suite, baseline: false, outRoot: out }, { runner, sandbox, costOf });

      await expect(run).rejects.toBeInstanceOf(InvalidFileError);
      await expect(run).rejects.toThrow(message);
      await expect(run).rejects.toThrow(path.join(skillDir, 'SKILL.md'));
      expect(server.requests.length).toBe(requests);
    },
  );
});

describe('runBench grading', () => {
  it('grades smoke fixtures and trials on long-lived hosts, at most `concurrency` of them', async () => {
    const hostArgv: string[][] = [];
    let graderRuns = 0;
    const counting: Sandbox = {
      level: sandbox.level,
      fallbackReason: sandbox.fallbackReason,
      nodePath: sandbox.nodePath,
      run: (argv, opts) => {
        if (argv.includes('--eval')) graderRuns++;
        return sandbox.run(argv, opts);
      },
      runShell: (command, opts) => sandbox.runShell(command, opts),
      start: (argv, opts) => {
        hostArgv.push(argv);
        return sandbox.start(argv, opts);
      },
    };
    const suite = await loadSuite(path.join(FIXTURE, 'ok.yml'), { trials: 6, concurrency: 2 });
    const result = await runBench(
      { suite, baseline: false, outRoot: await mkdtemp(path.join(root, 'out-')) },
      { runner, sandbox: counting, costOf },
    );
    expect(result.records.map((r) => r.status)).toEqual(Array(6).fill('pass'));
    expect(graderRuns).toBe(0);
    expect(hostArgv.length).toBeGreaterThanOrEqual(1);
    expect(hostArgv.length).toBeLessThanOrEqual(2);
  });
});
