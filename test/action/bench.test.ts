import { appendFileSync, cpSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArtifactPort } from '../../src/action/ports.js';
import { type RunOptions, run } from '../../src/action/run.js';
import { readResults } from '../../src/bench/results.js';
import { probeBubblewrap } from '../../src/bench/sandbox/index.js';
import { loadScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { example } from '../routing/webhook-examples.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { FakeArtifacts } from './fake-artifacts.js';
import {
  API_KEY,
  checkout,
  EXAMPLE,
  jobEnv,
  makeWorld,
  readOutputs,
  TOKEN,
  type World,
} from './harness.js';

const sandbox = useGitSandbox();
let world: World;
let server: ScriptedServer;
let store: string;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

beforeAll(async () => {
  world = makeWorld(sandbox.base);
  server = await startScriptedServer({
    script: await loadScript(join(EXAMPLE, 'tests', 'script.yml')),
  });
  process.env.ANTHROPIC_BASE_URL = server.url;
  store = await mkdtemp(join(tmpdir(), 'so-artifacts-'));
});

afterAll(async () => {
  await server.close();
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
  await rm(store, { recursive: true, force: true });
});

async function job(
  inputs: Record<string, string>,
  artifacts: ArtifactPort,
  extra: { configLines?: string; options?: RunOptions } = {},
) {
  const workspace = checkout(world);
  if (extra.configLines !== undefined) {
    appendFileSync(join(workspace, '.github', 'skill-optimizer.yml'), extra.configLines);
  }
  cpSync(join(EXAMPLE, 'skill'), join(workspace, 'bench', 'skill'), { recursive: true });
  cpSync(join(EXAMPLE, 'tests'), join(workspace, 'bench', 'tests'), { recursive: true });
  const env = jobEnv({
    workspace,
    eventName: 'workflow_dispatch',
    payload: example('workflow_dispatch'),
    inputs,
  });
  try {
    const outcome = await run({
      artifacts,
      github: { retry: false, throttle: false },
      ...extra.options,
    });
    return {
      outcome,
      outputs: readOutputs(env.files.output),
      summary: readFileSync(env.files.summary, 'utf8'),
    };
  } finally {
    env.restore();
  }
}

describe('bench-shard and bench-merge', () => {
  it('runs each shard, uploads its results, and merges every shard into one summary', async () => {
    const artifacts = new FakeArtifacts(store);
    const common = {
      'github-token': TOKEN,
      'anthropic-api-key': API_KEY,
      suite: 'bench/tests/suite.yml',
    };
    const first = await job({ ...common, command: 'bench-shard', shard: '1/2' }, artifacts);
    const second = await job({ ...common, command: 'bench-shard', shard: '2/2' }, artifacts);

    expect(first.outputs.status).toBe('done');
    expect(second.outputs.status).toBe('done');
    expect(artifacts.stored.map((a) => a.name)).toEqual([
      'skill-optimizer-bench-1',
      'skill-optimizer-bench-2',
    ]);
    for (const a of artifacts.stored)
      expect(a.files).toEqual(expect.arrayContaining(['results.jsonl', 'meta.json']));
    const shardRecords = await Promise.all(artifacts.stored.map((a) => readResults(a.dir)));
    const keys = shardRecords.flat().map((r) => `${r.probe}|${r.model}|${r.trial}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(5 * 2 * 3);
    expect(shardRecords.every((records) => records.length > 0)).toBe(true);
    expect(first.summary).toContain('shard 1/2');

    const merged = await job({ 'github-token': TOKEN, command: 'bench-merge' }, artifacts);
    expect(merged.outputs.status).toBe('done');
    expect(merged.outcome.message).toBe('merged 30 trials from 2 shards');
    expect(merged.summary).toContain('Bench (2 shards merged)');
    expect(merged.summary).toContain('fixed-with-pr');
    expect(Number(merged.outputs.cost)).toBeGreaterThan(0);
  });

  it('fails the merge plainly when no shard uploaded anything', async () => {
    const merged = await job(
      { 'github-token': TOKEN, command: 'bench-merge' },
      new FakeArtifacts(store),
    );
    expect(merged.outputs.status).toBe('failed');
    expect(merged.summary).toContain(
      'no bench shard artifacts (skill-optimizer-bench-<i>) in this workflow run',
    );
    process.exitCode = undefined;
  });

  it('logs each model retry as a warning: what failed, which attempt, how long the wait', async () => {
    const flaky = await startScriptedServer({
      script: await loadScript(join(EXAMPLE, 'tests', 'script.yml')),
      faults: { every: 4, fault: 'malformed' },
    });
    process.env.ANTHROPIC_BASE_URL = flaky.url;
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const shard = await job(
        {
          'github-token': TOKEN,
          'anthropic-api-key': API_KEY,
          suite: 'bench/tests/suite.yml',
          command: 'bench-shard',
          shard: '1/10',
        },
        new FakeArtifacts(store),
      );
      expect(shard.outputs.status).toBe('done');
    } finally {
      spy.mockRestore();
      process.env.ANTHROPIC_BASE_URL = server.url;
      await flaky.close();
    }
    expect(written.join('')).toMatch(
      /^::warning::Anthropic API sent a truncated or invalid response on attempt 1\/6 \(trial call to claude-[\w-]+\); retrying in \d\.\d s\.$/m,
    );
  });

  describe('the sandbox of a shard', () => {
    const common = {
      'github-token': TOKEN,
      'anthropic-api-key': API_KEY,
      suite: 'bench/tests/suite.yml',
      command: 'bench-shard',
      shard: '1/10',
    };

    it('fails the job, naming the fix, when bubblewrap cannot start on a self-hosted runner', async () => {
      const savedEnv = process.env.RUNNER_ENVIRONMENT;
      process.env.RUNNER_ENVIRONMENT = 'self-hosted';
      const artifacts = new FakeArtifacts(store);
      try {
        const shard = await job(common, artifacts, {
          options: { sandbox: { probe: async () => 'bwrap not found in /usr/bin/bwrap' } },
        });
        expect(shard.outputs.status).toBe('failed');
        expect(shard.summary).toContain('bubblewrap cannot start on this runner');
        expect(shard.summary).toContain('set `sandbox: process`');
        expect(artifacts.stored).toEqual([]);
      } finally {
        if (savedEnv === undefined) delete process.env.RUNNER_ENVIRONMENT;
        else process.env.RUNNER_ENVIRONMENT = savedEnv;
        process.exitCode = undefined;
      }
    });

    it('on a GitHub-hosted runner, sets bubblewrap up through the host port before the trials', async () => {
      const savedEnv = process.env.RUNNER_ENVIRONMENT;
      process.env.RUNNER_ENVIRONMENT = 'github-hosted';
      const ran: string[] = [];
      let probes = 0;
      const options: RunOptions = {
        sandbox: {
          host: {
            async run(argv) {
              ran.push(argv.join(' '));
              if (argv[0] === 'sysctl') return { exitCode: 0, output: '1\n' };
              return { exitCode: 0, output: '' };
            },
          },
          // Restricted until the sysctl ran; the real probe after that.
          probe: async () => {
            probes += 1;
            return ran.some((c) => c.startsWith('sudo -n sysctl -w'))
              ? probeBubblewrap()
              : 'bwrap cannot start a sandbox here (setting up uid map: Permission denied)';
          },
        },
      };
      try {
        const shard = await job(common, new FakeArtifacts(store), { options });
        expect(shard.outputs.status).toBe('done');
        expect(ran).toEqual([
          'bwrap --version',
          'sysctl -n kernel.apparmor_restrict_unprivileged_userns',
          'sudo -n sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
        ]);
        expect(probes).toBe(3);
        expect(shard.summary).toContain('- Isolation: bubblewrap');
      } finally {
        if (savedEnv === undefined) delete process.env.RUNNER_ENVIRONMENT;
        else process.env.RUNNER_ENVIRONMENT = savedEnv;
      }
    });

    it('runs in process mode only when the config says so, and says so first', async () => {
      const shard = await job(common, new FakeArtifacts(store), {
        configLines: 'sandbox: process\n',
        options: { sandbox: { probe: async () => 'bwrap not found in /usr/bin/bwrap' } },
      });
      expect(shard.outputs.status).toBe('done');
      expect(shard.summary.split('\n')[0]).toMatch(
        /^> Warning: weaker isolation\. .*`process` sandbox mode was chosen explicitly/,
      );
      expect(shard.summary).toContain('- Isolation: **process');
    });
  });
});
