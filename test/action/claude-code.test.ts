import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentBinaryPath,
  CLAUDE_AGENT_SDK_VERSION,
  ensureClaudeCode,
  type RunProgram,
  runProgram,
} from '../../src/action/claude-code-install.js';
import type { ArtifactPort } from '../../src/action/ports.js';
import { run } from '../../src/action/run.js';
import { readResults } from '../../src/bench/results.js';
import { scriptSchema } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { example } from '../routing/webhook-examples.js';
import { useGitSandbox } from '../store/git-fixture.js';
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

/**
 * The `claude-code` runner in the Action: a bench shard whose suite asks for it installs the
 * pinned agent into the cache folder (npm faked: it links the package this repository already
 * installed), checks that it starts, and runs the real agent binary against the scripted model.
 * The next job finds the agent in the cache and installs nothing.
 */

const INSTALLED = resolve('node_modules/@anthropic-ai/claude-agent-sdk-linux-x64');
const sandbox = useGitSandbox();
let world: World;
let server: ScriptedServer;
let scratch: string;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

/** Keeps what the Action uploads. */
class KeptArtifacts implements ArtifactPort {
  readonly stored: Array<{ name: string; dir: string }> = [];
  constructor(private readonly root: string) {}
  async upload(name: string, files: string[], rootDir: string): Promise<void> {
    const dir = join(this.root, name);
    for (const file of files) {
      const to = join(dir, relative(rootDir, file));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(file, to);
    }
    this.stored.push({ name, dir });
  }
  async list() {
    return [];
  }
  async download(): Promise<void> {
    throw new Error('not used');
  }
}

beforeAll(async () => {
  world = makeWorld(sandbox.base);
  scratch = await mkdtemp(join(tmpdir(), 'so-cc-action-'));
  server = await startScriptedServer({
    script: scriptSchema.parse({
      rules: [
        {
          name: 'write-note',
          when: { turn: 1, contains: '- keep-a-changelog' },
          reply: {
            content: [
              { type: 'tool_use', name: 'Bash', input: { command: "printf 'done\\n' > NOTE.txt" } },
            ],
          },
        },
        {
          name: 'finish',
          when: { turn: 2 },
          reply: { content: [{ type: 'text', text: 'NOTE.txt written.' }] },
        },
      ],
    }),
  });
  process.env.ANTHROPIC_BASE_URL = server.url;
});

afterAll(async () => {
  await server.close();
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
  await rm(scratch, { recursive: true, force: true });
});

/** A one-probe suite for the claude-code runner, in the job's checkout. */
function writeSuite(workspace: string): void {
  cpSync(join(EXAMPLE, 'skill'), join(workspace, 'bench', 'skill'), { recursive: true });
  const suite = join(workspace, 'bench', 'cc');
  mkdirSync(join(suite, 'note', 'write', 'workspace'), { recursive: true });
  writeFileSync(
    join(suite, 'suite.yml'),
    [
      'skill: ../skill',
      'models: [claude-sonnet-4-6]',
      'trials: 1',
      'concurrency: 1',
      'runner: claude-code',
      'limits: { max_turns: 4, max_output_tokens: 2048, max_total_tokens: 200000, timeout_s: 60 }',
      'probes: [note/write]',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(suite, 'note', 'write', 'probe.yaml'),
    'prompt: Write NOTE.txt saying done.\n',
  );
  writeFileSync(join(suite, 'note', 'write', 'workspace', 'README.txt'), 'notes go here\n');
  // The grader's smoke check: a workspace it must pass, and a wrong one and an empty one it fails.
  const smoke = { good: { 'NOTE.txt': 'done\n' }, bad: { 'NOTE.txt': 'later\n' }, empty: {} };
  for (const [kind, files] of Object.entries(smoke)) {
    const dir = join(suite, 'note', 'write', 'smoke', kind);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  }
  writeFileSync(
    join(suite, 'note', 'write', 'grader.mjs'),
    [
      "import { readFile } from 'node:fs/promises';",
      "import { join } from 'node:path';",
      'export default async function grade({ workspaceDir }) {',
      "  const text = await readFile(join(workspaceDir, 'NOTE.txt'), 'utf8').catch(() => null);",
      "  return { pass: text === 'done\\n', reasons: [text === null ? 'no NOTE.txt' : 'NOTE.txt read'] };",
      '}',
      '',
    ].join('\n'),
  );
}

async function shardJob(cacheDir: string, programs: RunProgram) {
  const workspace = checkout(world);
  writeSuite(workspace);
  const env = jobEnv({
    workspace,
    eventName: 'workflow_dispatch',
    payload: example('workflow_dispatch'),
    inputs: {
      'github-token': TOKEN,
      'anthropic-api-key': API_KEY,
      command: 'bench-shard',
      shard: '1/1',
      suite: 'bench/cc/suite.yml',
    },
  });
  const artifacts = new KeptArtifacts(join(scratch, `artifacts-${Date.now()}`));
  try {
    const outcome = await run({
      artifacts,
      github: { retry: false, throttle: false },
      claudeCode: { cacheDir, run: programs },
    });
    return { outcome, artifacts, outputs: readOutputs(env.files.output) };
  } finally {
    env.restore();
  }
}

describe('the claude-code runner in the Action', () => {
  it('installs the pinned agent once, checks it starts, and benches with the real agent', async () => {
    const cacheDir = join(scratch, 'cache');
    const calls: string[][] = [];
    // npm is faked by linking the installed package where npm would put it; the agent runs for real.
    const programs: RunProgram = async (file, args, opts) => {
      calls.push([file, ...args]);
      if (file !== 'npm') return runProgram(file, args, opts);
      const prefix = args[args.indexOf('--prefix') + 1] ?? '';
      const target = dirname(agentBinaryPath(prefix, 'linux', 'x64'));
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(INSTALLED, target);
      return { stdout: '' };
    };

    const first = await shardJob(cacheDir, programs);

    expect(first.outcome.message).not.toMatch(/fail/i);
    expect(first.outputs.status).toBe('done');
    const prefix = join(cacheDir, CLAUDE_AGENT_SDK_VERSION);
    expect(calls[0]).toEqual([
      'npm',
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      `@anthropic-ai/claude-agent-sdk@${CLAUDE_AGENT_SDK_VERSION}`,
    ]);
    expect(calls[1]).toEqual([agentBinaryPath(prefix), '--version']);
    const [uploaded] = first.artifacts.stored;
    const records = await readResults(uploaded?.dir ?? '');
    expect(records.map((r) => [r.runner, r.status, r.error])).toEqual([
      ['claude-code', 'pass', null],
    ]);
    expect(server.requests.filter((r) => r.rule === 'write-note')).toHaveLength(1);

    // The next job (the workflow restored the cache): nothing installed, the agent started again.
    calls.length = 0;
    const second = await shardJob(cacheDir, programs);
    expect(second.outputs.status).toBe('done');
    expect(calls).toEqual([[agentBinaryPath(prefix), '--version']]);
  });
});

describe('the pinned agent', () => {
  it('is the version package.json depends on', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies['@anthropic-ai/claude-agent-sdk']).toBe(CLAUDE_AGENT_SDK_VERSION);
  });
});

describe('ensureClaudeCode', () => {
  it('says how to fix a failed npm install', async () => {
    const cacheDir = join(scratch, 'broken-npm');
    const failing: RunProgram = async () => {
      throw new Error('npm ERR! network request failed');
    };
    await expect(ensureClaudeCode({ cacheDir, log: () => {}, run: failing })).rejects.toThrow(
      /installing the Claude Code agent \(@anthropic-ai\/claude-agent-sdk@[\d.]+\) with npm failed: npm ERR! network request failed\. The runner needs npm and access to the npm registry; or set `runner: messages`/,
    );
  });

  it('refuses a cached agent that does not start, naming the cache to clear', async () => {
    const cacheDir = join(scratch, 'broken-agent');
    const binary = agentBinaryPath(join(cacheDir, CLAUDE_AGENT_SDK_VERSION));
    mkdirSync(dirname(binary), { recursive: true });
    writeFileSync(binary, '#!/bin/sh\necho "cannot execute" >&2\nexit 3\n', { mode: 0o755 });
    await expect(ensureClaudeCode({ cacheDir, log: () => {} })).rejects.toThrow(
      `the Claude Code agent at ${binary} does not start: Command failed: ${binary} --version: cannot execute. Delete the cache folder ${cacheDir}`,
    );
  });
});
