import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ModelGateway, startModelGateway } from '../../../src/bench/gateway.js';
import {
  classify,
  createClaudeCodeRunner,
  skillFolderName,
  TrialCollector,
} from '../../../src/bench/runners/claude-code.js';
import { AGENT_GATEWAY_PORT, type AgentIsolation } from '../../../src/bench/sandbox/agent.js';
import { discoverHostLayout } from '../../../src/bench/sandbox/host-layout.js';
import { loadSkill } from '../../../src/bench/skill.js';
import type { Probe, RunnerInput, Skill } from '../../../src/bench/types.js';
import { type Script, scriptSchema } from '../../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../../src/model/scripted/server.js';
import { withLoopbackServer } from '../sandbox/loopback.js';
import { sleepersOf } from '../sandbox/sleepers.js';

const EXECUTABLE = path.resolve('node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude');
const REAL_KEY = 'sk-ant-api03-REALKEY-must-never-leak-5d1e0c';
const SKILL_NAME = 'csv-report';
const SKILL_MARKER = 'SKILL-BODY-MARKER-7731';
const MODEL = 'claude-scripted-1';
const BWRAP = '/usr/bin/bwrap';
const HAS_BWRAP = process.platform === 'linux' && existsSync(BWRAP);

/** The isolation the product uses: bubblewrap where it can start (CI installs it), else process. */
async function bubblewrap(): Promise<AgentIsolation> {
  const layout = await discoverHostLayout();
  if (typeof layout === 'string') throw new Error(layout);
  return { level: 'bubblewrap', layout };
}
const PROCESS: AgentIsolation = { level: 'process' };

let root: string;
let workspaceDir: string;
let skill: Skill;
let scripted: ScriptedServer | undefined;
let gateway: ModelGateway | undefined;
let savedEnv: NodeJS.ProcessEnv;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cc-runner-test-'));
  workspaceDir = path.join(root, 'workspace');
  await mkdir(workspaceDir);
  await writeFile(path.join(workspaceDir, 'data.csv'), 'a,b\n1,2\n');
  const skillDir = path.join(root, 'skill');
  await mkdir(path.join(skillDir, 'scripts'), { recursive: true });
  await writeFile(
    path.join(skillDir, 'SKILL.md'),
    `---\nname: ${SKILL_NAME}\ndescription: Use when asked to summarise a CSV file into a report.\n---\n\n# CSV report\n\n${SKILL_MARKER}: write report.txt.\n`,
  );
  await writeFile(path.join(skillDir, 'scripts', 'helper.sh'), 'echo helper\n');
  skill = await loadSkill(skillDir);
  // The parent holds the real key in its environment, as the Action does: the agent must not get it.
  savedEnv = { ...process.env };
  process.env.ANTHROPIC_API_KEY = REAL_KEY;
  process.env.INPUT_ANTHROPIC_API_KEY = REAL_KEY;
});

afterEach(async () => {
  process.env = savedEnv;
  await gateway?.close();
  await scripted?.close();
  gateway = undefined;
  scripted = undefined;
  await rm(root, { recursive: true, force: true });
});

function probe(limits: Partial<Probe['limits']> = {}): Probe {
  return {
    id: 'csv/basic',
    dir: root,
    prompt: 'Summarise data.csv into report.txt.',
    limits: {
      max_turns: 6,
      max_output_tokens: 2048,
      max_total_tokens: 10_000_000,
      timeout_s: 50,
      ...limits,
    },
    tags: [],
    heldout: false,
    workspaceDir,
    graderPath: path.join(root, 'grader.mjs'),
  };
}

async function setup(script: Script, isolation?: AgentIsolation) {
  scripted = await startScriptedServer({ script: scriptSchema.parse(script) });
  gateway = await startModelGateway({ upstreamBaseURL: scripted.url, upstreamApiKey: REAL_KEY });
  return createClaudeCodeRunner({
    gateway,
    executable: EXECUTABLE,
    isolation: isolation ?? (HAS_BWRAP ? await bubblewrap() : PROCESS),
  });
}

function input(p: Probe, withSkill: boolean): RunnerInput {
  return {
    probe: p,
    skill: withSkill ? skill : null,
    model: MODEL,
    workspaceDir,
    signal: new AbortController().signal,
  };
}

/** What each recorded request was answered with, to read when a script does not match. */
function rulesUsed(): Array<string | null> {
  return (scripted?.requests ?? []).filter((r) => r.path === '/v1/messages').map((r) => r.rule);
}

describe('claude-code runner with the real agent', () => {
  it('installs the skill, sees the agent invoke it and follow it, and meters usage', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'invoke-skill',
          when: { turn: 1, contains: `- ${SKILL_NAME}: Use when asked`, tool_offered: 'Skill' },
          reply: { content: [{ type: 'tool_use', name: 'Skill', input: { skill: SKILL_NAME } }] },
        },
        {
          name: 'write-report',
          when: { turn: 2, last_user_contains: SKILL_MARKER },
          reply: {
            content: [
              { type: 'text', text: 'Writing the report.' },
              {
                type: 'tool_use',
                name: 'Write',
                input: { file_path: path.join(workspaceDir, 'report.txt'), content: 'rows: 1\n' },
              },
            ],
          },
        },
        {
          name: 'finish',
          when: { turn: 3 },
          reply: { content: [{ type: 'text', text: 'Report written.' }] },
        },
      ],
    });
    const out = await runner.runTrial(input(probe(), true));

    expect(rulesUsed()).toEqual(['invoke-skill', 'write-report', 'finish']);
    expect(out.error).toBeUndefined();
    expect(out.stopReason).toBe('end_turn');
    expect(out.skillTriggered).toBe(true);
    expect(out.finalMessage).toBe('Report written.');
    expect(await readFile(path.join(workspaceDir, 'report.txt'), 'utf8')).toBe('rows: 1\n');
    expect(out.usage.input_tokens + out.usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(out.usage.output_tokens).toBeGreaterThan(0);
    // Messages-shaped transcript: prompt, Skill call, skill body, Write call, tool result, final text.
    expect(out.transcript[0]).toEqual({ role: 'user', content: probe().prompt });
    const roles = out.transcript.map((m) => m.role);
    expect(roles).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(JSON.stringify(out.transcript[2])).toContain(SKILL_MARKER);
    const write = out.transcript[3]?.content as Array<Record<string, unknown>>;
    expect(write.map((b) => b.type)).toEqual(['text', 'tool_use']);
    // The installed copy is removed afterwards: the workspace holds only what the agent left.
    expect((await readdir(workspaceDir)).sort()).toEqual(['data.csv', 'report.txt']);
  });

  it.each([
    ['spaces', 'CSV report: quarterly', 'CSV-report-quarterly'],
    ['leading dashes', '--csv-report', 'csv-report'],
  ])(
    'installs a skill whose name has %s under a slug folder, the name unchanged',
    async (_, name, folder) => {
      const skillDir = path.join(root, 'odd-skill');
      await mkdir(skillDir);
      await writeFile(
        path.join(skillDir, 'SKILL.md'),
        `---\nname: ${JSON.stringify(name)}\ndescription: Use when asked to summarise a CSV file into a report.\n---\n\n${SKILL_MARKER}\n`,
      );
      const odd = await loadSkill(skillDir);
      expect(odd.name).toBe(name);
      const runner = await setup({
        rules: [
          {
            name: 'look',
            // Claude Code lists and calls a skill by its folder.
            when: { turn: 1, contains: `- ${folder}` },
            reply: {
              content: [
                {
                  type: 'tool_use',
                  name: 'Bash',
                  input: { command: 'ls .claude/skills > seen.txt' },
                },
                { type: 'tool_use', name: 'Skill', input: { skill: folder } },
              ],
            },
          },
          {
            name: 'finish',
            when: { turn: 2, last_user_contains: SKILL_MARKER },
            reply: { content: [{ type: 'text', text: 'Done.' }] },
          },
        ],
      });
      const out = await runner.runTrial({ ...input(probe(), false), skill: odd });

      expect(rulesUsed()).toEqual(['look', 'finish']);
      expect(out.error).toBeUndefined();
      expect(out.stopReason).toBe('end_turn');
      expect(out.skillTriggered).toBe(true);
      expect(await readFile(path.join(workspaceDir, 'seen.txt'), 'utf8')).toBe(`${folder}\n`);
      expect((await readdir(workspaceDir)).sort()).toEqual(['data.csv', 'seen.txt']);
    },
  );

  it('runs the baseline without any skill installed', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'skill-listed',
          when: { contains: `- ${SKILL_NAME}:` },
          reply: { content: [{ type: 'tool_use', name: 'Skill', input: { skill: SKILL_NAME } }] },
        },
        {
          name: 'look',
          when: { turn: 1 },
          reply: {
            content: [
              {
                type: 'tool_use',
                name: 'Bash',
                input: { command: 'ls -a .claude > seen.txt 2>&1; true' },
              },
            ],
          },
        },
        {
          name: 'finish',
          when: { turn: 2 },
          reply: { content: [{ type: 'text', text: 'Nothing to do.' }] },
        },
      ],
    });
    const out = await runner.runTrial(input(probe(), false));

    expect(rulesUsed()).toEqual(['look', 'finish']);
    expect(out.stopReason).toBe('end_turn');
    expect(out.skillTriggered).toBe(false);
    expect(await readFile(path.join(workspaceDir, 'seen.txt'), 'utf8')).toMatch(
      /No such file or directory/,
    );
  });

  it('sends the same system prompt in every trial, so later trials read it from the cache', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'finish',
          when: { turn: 1 },
          reply: { content: [{ type: 'text', text: 'Done.' }] },
        },
      ],
    });
    const other = path.join(root, 'other-workspace');
    await mkdir(other);
    const first = await runner.runTrial(input(probe(), true));
    const second = await runner.runTrial({ ...input(probe(), true), workspaceDir: other });

    const calls = (scripted?.requests ?? []).filter((r) => r.path === '/v1/messages');
    expect(calls.map((r) => r.rule)).toEqual(['finish', 'finish']);
    const systems = calls.map((r) => JSON.stringify((r.body as { system?: unknown }).system));
    // No per-trial HOME or workspace (auto-memory), no fingerprint of the prompt (attribution).
    expect(systems[1]).toBe(systems[0]);
    expect(systems[0]).not.toContain('x-anthropic-billing-header');
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(second.usage.cache_read_input_tokens).toBeGreaterThan(2000);
  });

  it('never lets the agent hold the real key', async () => {
    const command = [
      'env > env.txt',
      'for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done > proc-env.txt 2>/dev/null',
      'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done > proc-cmdline.txt 2>/dev/null',
      'true',
    ].join('; ');
    const runner = await setup({
      rules: [
        {
          name: 'dump',
          when: { turn: 1 },
          reply: { content: [{ type: 'tool_use', name: 'Bash', input: { command } }] },
        },
        {
          name: 'finish',
          when: { turn: 2 },
          reply: { content: [{ type: 'text', text: 'Dumped.' }] },
        },
      ],
    });
    const trialInput = input(probe(), true);
    const out = await runner.runTrial(trialInput);
    expect(rulesUsed()).toEqual(['dump', 'finish']);
    expect(out.stopReason).toBe('end_turn');

    const env = await readFile(path.join(workspaceDir, 'env.txt'), 'utf8');
    const procEnv = await readFile(path.join(workspaceDir, 'proc-env.txt'), 'utf8');
    // The dumps are real: the agent's own dummy key and the gateway URL are in them.
    expect(env).toMatch(/^ANTHROPIC_API_KEY=sk-trial-[0-9a-f]+$/m);
    expect(env).toContain(
      `ANTHROPIC_BASE_URL=${HAS_BWRAP ? `http://127.0.0.1:${AGENT_GATEWAY_PORT}` : gateway?.url}`,
    );
    expect(procEnv).toMatch(/ANTHROPIC_API_KEY=sk-trial-/);
    for (const file of await readdir(workspaceDir)) {
      expect(await readFile(path.join(workspaceDir, file), 'utf8')).not.toContain(REAL_KEY);
    }
    expect(JSON.stringify(out)).not.toContain(REAL_KEY);

    // The scripted upstream got the real key on every call and never the dummy one.
    const messageCalls = scripted?.requests.filter((r) => r.path === '/v1/messages') ?? [];
    expect(messageCalls.length).toBe(2);
    for (const r of messageCalls) {
      expect(r.headers['x-api-key']).toBe(REAL_KEY);
      expect(JSON.stringify({ ...r.headers, 'x-api-key': '' })).not.toContain(REAL_KEY);
      expect(JSON.stringify(r.body)).not.toContain(REAL_KEY);
    }
  });

  describe('reading other processes through /proc', () => {
    let holder: ChildProcess | undefined;
    const dumpProcEnv =
      'for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done > proc-env.txt 2>/dev/null; true';

    beforeEach(() => {
      // A same-user process whose environment holds the key, as the Action's own process does.
      holder = spawn('sleep', ['60'], {
        env: { PATH: process.env.PATH, HOLDER_SECRET: REAL_KEY },
        stdio: 'ignore',
      });
    });
    afterEach(() => {
      holder?.kill('SIGKILL');
    });

    async function dumpWith(isolation: AgentIsolation): Promise<string> {
      scripted = await startScriptedServer({
        script: scriptSchema.parse({
          rules: [
            {
              when: { turn: 1 },
              reply: {
                content: [{ type: 'tool_use', name: 'Bash', input: { command: dumpProcEnv } }],
              },
            },
            { when: { turn: 2 }, reply: { content: [{ type: 'text', text: 'Dumped.' }] } },
          ],
        }),
      });
      gateway = await startModelGateway({
        upstreamBaseURL: scripted.url,
        upstreamApiKey: REAL_KEY,
      });
      const runner = createClaudeCodeRunner({ gateway, executable: EXECUTABLE, isolation });
      const out = await runner.runTrial(input(probe(), true));
      expect(out.stopReason).toBe('end_turn');
      return readFile(path.join(workspaceDir, 'proc-env.txt'), 'utf8');
    }

    it('can in process mode (why the bubblewrap mode exists)', async () => {
      expect(await dumpWith(PROCESS)).toContain(`HOLDER_SECRET=${REAL_KEY}`);
    });

    it.skipIf(!HAS_BWRAP)(
      'cannot under bubblewrap, which sees only its own processes',
      async () => {
        const procEnv = await dumpWith(await bubblewrap());
        expect(procEnv).toMatch(/ANTHROPIC_API_KEY=sk-trial-/);
        expect(procEnv).not.toContain(REAL_KEY);
      },
    );
  });

  /** A one-command agent: runs `command` with its Bash tool, then ends its turn. */
  function bashThenStop(command: string): Script {
    return {
      rules: [
        {
          name: 'bash',
          when: { turn: 1 },
          reply: { content: [{ type: 'tool_use', name: 'Bash', input: { command } }] },
        },
        { name: 'stop', when: { turn: 2 }, reply: { content: [{ type: 'text', text: 'Done.' }] } },
      ],
    };
  }

  describe('a trial hunting for secrets', () => {
    let outside: string;
    const canaryText = 'CANARY-outside-the-trial-4417';

    beforeEach(async () => {
      outside = path.join(root, 'outside');
      await mkdir(outside);
      await writeFile(path.join(outside, 'canary.txt'), canaryText);
    });

    async function hunt(isolation: AgentIsolation, listenerPort: number) {
      const canary = path.join(outside, 'canary.txt');
      const tcp = (port: string | number) =>
        `timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected' 2>&1`;
      const command = [
        `cat ${canary} > canary.txt 2>&1`,
        `ln -s ${canary} link; cat link > link.txt 2>&1`,
        // Only the agent's own program dir is mounted from the project (its parents appear empty).
        `{ ls ${process.cwd()}/src; cat ${process.cwd()}/package.json; } > project.txt 2>&1`,
        `${tcp(listenerPort)} > net.txt`,
        'for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done > env.txt 2>/dev/null',
        'true',
      ].join('; ');
      scripted = await startScriptedServer({ script: scriptSchema.parse(bashThenStop(command)) });
      gateway = await startModelGateway({
        upstreamBaseURL: scripted.url,
        upstreamApiKey: REAL_KEY,
      });
      const runner = createClaudeCodeRunner({ gateway, executable: EXECUTABLE, isolation });
      const out = await runner.runTrial(input(probe(), true));
      expect(rulesUsed()).toEqual(['bash', 'stop']);
      const read = (name: string) => readFile(path.join(workspaceDir, name), 'utf8');
      return {
        out,
        canary: await read('canary.txt'),
        link: await read('link.txt'),
        project: await read('project.txt'),
        net: await read('net.txt'),
        env: await read('env.txt'),
      };
    }

    it.skipIf(!HAS_BWRAP)(
      'under bubblewrap finds no host file, no project dir, no network and no key',
      async () => {
        const found = await withLoopbackServer(async (port) => hunt(await bubblewrap(), port));
        expect(found.out.stopReason).toBe('end_turn');
        expect(found.canary).toMatch(/No such file or directory/);
        expect(found.link).toMatch(/No such file or directory/);
        expect(found.project.match(/No such file or directory/g)).toHaveLength(2);
        expect(found.net).not.toContain('connected');
        expect(found.env).toMatch(/ANTHROPIC_API_KEY=sk-trial-/);
        expect(found.env).not.toContain(REAL_KEY);
        for (const text of Object.values(found))
          expect(JSON.stringify(text)).not.toContain(canaryText);
      },
    );

    it('in process mode reaches the host file and the network (why process mode is opt-in)', async () => {
      const found = await withLoopbackServer(async (port) => hunt(PROCESS, port));
      expect(found.canary).toBe(canaryText);
      expect(found.link).toBe(canaryText);
      expect(found.net).toContain('connected');
    });
  });

  describe.each([
    ['bubblewrap', HAS_BWRAP],
    ['process', true],
  ])('limits in %s mode', (mode, available) => {
    const isolation = async () => (mode === 'bubblewrap' ? bubblewrap() : PROCESS);
    const runWith = async (command: string, limits: Record<string, number>) => {
      scripted = await startScriptedServer({ script: scriptSchema.parse(bashThenStop(command)) });
      gateway = await startModelGateway({
        upstreamBaseURL: scripted.url,
        upstreamApiKey: REAL_KEY,
      });
      const runner = createClaudeCodeRunner({
        gateway,
        executable: EXECUTABLE,
        isolation: await isolation(),
        limits,
      });
      return runner.runTrial(input(probe({ timeout_s: 40 }), false));
    };

    it.skipIf(!available)('kills a fork bomb and every process it started', async () => {
      const out = await runWith('i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); done; wait', {
        maxProcesses: 120,
      });
      const bash = JSON.stringify(out.transcript);
      // Killed by the outside watch, or (non-root in bubblewrap) stopped by RLIMIT_NPROC first.
      if (out.error !== undefined) {
        expect(out.error).toBe('the sandbox killed the agent: more than 120 processes at once');
      } else expect(bash).toMatch(/Resource temporarily unavailable|fork/);
      expect(await sleepersOf(workspaceDir)).toEqual([]);
    });

    it.skipIf(!available)('kills a disk fill past the workspace cap', async () => {
      const out = await runWith(
        'for i in 1 2 3 4; do head -c 6000000 /dev/zero > f$i; done; sleep 30',
        { maxDiskMb: 10 },
      );
      expect(out.stopReason).toBe('error');
      expect(out.error).toBe('the sandbox killed the agent: the trial folder grew past 10 MB');
    });

    it.skipIf(!available)('leaves no `setsid` child behind', async () => {
      const out = await runWith(
        'setsid sh -c "sleep 1; echo escaped > escaped.txt; sleep 30" > /dev/null 2>&1 < /dev/null & echo started',
        {},
      );
      expect(out.stopReason).toBe('end_turn');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(existsSync(path.join(workspaceDir, 'escaped.txt'))).toBe(false);
      expect(await sleepersOf(workspaceDir)).toEqual([]);
    });
  });

  it('stops an agent that never ends at the turn limit', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'loop',
          reply: {
            content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo again' } }],
          },
        },
      ],
    });
    const out = await runner.runTrial(input(probe({ max_turns: 3 }), false));
    expect(rulesUsed()).toEqual(['loop', 'loop', 'loop']);
    expect(out.stopReason).toBe('max_turns');
    expect(out.error).toBeUndefined();
    expect(out.transcript.filter((m) => m.role === 'assistant')).toHaveLength(3);
  });

  it('stops the trial once the gateway refuses for the token budget', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'loop',
          reply: {
            content: [{ type: 'tool_use', name: 'Bash', input: { command: 'echo again' } }],
          },
        },
      ],
    });
    const out = await runner.runTrial(input(probe({ max_total_tokens: 1 }), false));
    expect(rulesUsed()).toEqual(['loop']);
    expect(out.stopReason).toBe('budget');
    expect(out.usage.output_tokens).toBeGreaterThan(0);
  });

  it('ends a trial that outlives its wall-clock limit as a timeout', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'stall',
          latency_ms: 120_000,
          reply: { content: [{ type: 'text', text: 'late' }] },
        },
      ],
    });
    const out = await runner.runTrial(input(probe({ timeout_s: 2 }), true));
    expect(rulesUsed()).toEqual(['stall']);
    expect(out.stopReason).toBe('timeout');
    expect(out.error).toBe('trial timed out after 2 s');
    expect(await readdir(workspaceDir)).toEqual(['data.csv']);
  });

  it('ends a cancelled trial as an error', async () => {
    const runner = await setup({
      rules: [
        {
          name: 'stall',
          latency_ms: 120_000,
          reply: { content: [{ type: 'text', text: 'late' }] },
        },
      ],
    });
    const cancel = new AbortController();
    const running = runner.runTrial({ ...input(probe(), false), signal: cancel.signal });
    while (rulesUsed().length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    cancel.abort();
    const out = await running;
    expect(out.stopReason).toBe('error');
    expect(out.error).toBe('trial cancelled');
  });

  it('ends a trial at once with an error naming the model API the gateway cannot reach', async () => {
    const deadURL = await closedPortURL();
    gateway = await startModelGateway({
      upstreamBaseURL: deadURL,
      upstreamApiKey: REAL_KEY,
    });
    const runner = createClaudeCodeRunner({
      gateway,
      executable: EXECUTABLE,
      isolation: HAS_BWRAP ? await bubblewrap() : PROCESS,
    });
    const started = Date.now();
    const out = await runner.runTrial(input(probe({ timeout_s: 40 }), true));
    expect(out.stopReason).toBe('error');
    expect(out.error).toBe(
      `the model gateway could not reach the model API at ${deadURL}: connect ECONNREFUSED ${deadURL.slice('http://'.length)}`,
    );
    // Not after the agent's retries ran into the 40 s limit.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await readdir(workspaceDir)).toEqual(['data.csv']);
  });

  it('reports an agent that cannot start as an error instead of throwing', async () => {
    gateway = await startModelGateway({
      upstreamBaseURL: 'http://127.0.0.1:1',
      upstreamApiKey: REAL_KEY,
    });
    const runner = createClaudeCodeRunner({
      gateway,
      executable: path.join(root, 'no-such-claude'),
      isolation: HAS_BWRAP ? await bubblewrap() : PROCESS,
    });
    const out = await runner.runTrial(input(probe(), true));
    expect(out.stopReason).toBe('error');
    expect(out.error).toMatch(/^claude-code failed: /);
    expect(out.error).not.toContain('\n');
    expect(await readdir(workspaceDir)).toEqual(['data.csv']);
  });
});

describe('skillFolderName', () => {
  it('keeps a plain name and makes any other a safe folder name', () => {
    expect(skillFolderName('csv-report')).toBe('csv-report');
    expect(skillFolderName('PDF_tools.v2')).toBe('PDF_tools.v2');
    expect(skillFolderName('CSV report: quarterly')).toBe('CSV-report-quarterly');
    expect(skillFolderName('--help')).toBe('help');
    expect(skillFolderName('..')).toBe('skill');
    expect(skillFolderName('../../etc')).toBe('etc');
    expect(skillFolderName('a/b\\c')).toBe('a-b-c');
    expect(skillFolderName('café crème')).toBe('cafe-creme');
    expect(skillFolderName('技能')).toBe('skill');
    expect(skillFolderName(`${'x'.repeat(70)}`)).toBe('x'.repeat(64));
    expect(skillFolderName(`${'y'.repeat(63)} z`)).toBe('y'.repeat(63));
  });
});

describe('TrialCollector', () => {
  const assistant = (id: string, content: unknown[], parent: string | null = null) =>
    ({
      type: 'assistant',
      parent_tool_use_id: parent,
      message: { id, content },
    }) as unknown as SDKMessage;
  const user = (content: unknown) =>
    ({
      type: 'user',
      parent_tool_use_id: null,
      message: { role: 'user', content },
    }) as unknown as SDKMessage;

  it('merges streamed blocks of one message and consecutive user messages', () => {
    const c = new TrialCollector('do it', 'pdf');
    c.add(assistant('m1', [{ type: 'text', text: 'a' }]));
    c.add(
      assistant('m1', [{ type: 'tool_use', id: 't1', name: 'Skill', input: { skill: 'pdf' } }]),
    );
    c.add(user([{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }]));
    c.add(user('skill body'));
    c.add(assistant('m2', [{ type: 'text', text: 'done' }]));
    expect(c.transcript).toEqual([
      { role: 'user', content: 'do it' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'a' },
          { type: 'tool_use', id: 't1', name: 'Skill', input: { skill: 'pdf' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'ok' },
          { type: 'text', text: 'skill body' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'done' }] },
    ]);
    expect(c.skillTriggered).toBe(true);
    expect(c.finalMessage()).toBe('done');
  });

  it('counts only a Skill call naming this skill (`skill` or `command`, leading slash allowed)', () => {
    const call = (input: unknown, name = 'Skill') => {
      const c = new TrialCollector('p', 'pdf');
      c.add(assistant('m', [{ type: 'tool_use', id: 't', name, input }]));
      return c.skillTriggered;
    };
    expect(call({ skill: 'pdf' })).toBe(true);
    expect(call({ command: '/pdf' })).toBe(true);
    expect(call({ skill: 'docx' })).toBe(false);
    expect(call({ skill: 'pdf' }, 'Read')).toBe(false);
    expect(call('pdf')).toBe(false);
    const baseline = new TrialCollector('p', null);
    baseline.add(
      assistant('m', [{ type: 'tool_use', id: 't', name: 'Skill', input: { skill: 'pdf' } }]),
    );
    expect(baseline.skillTriggered).toBe(false);
  });

  it('keeps subagent messages out of the transcript but still sees their Skill calls', () => {
    const c = new TrialCollector('p', 'pdf');
    c.add(
      assistant(
        's1',
        [{ type: 'tool_use', id: 't', name: 'Skill', input: { skill: 'pdf' } }],
        'toolu_parent',
      ),
    );
    expect(c.transcript).toHaveLength(1);
    expect(c.skillTriggered).toBe(true);
  });
});

describe('classify', () => {
  const base = {
    thrown: undefined,
    timedOut: false,
    cancelled: false,
    budgetHit: false,
    timeoutS: 30,
    stderrTail: undefined,
  };
  const result = (fields: Record<string, unknown>) =>
    ({ type: 'result', errors: [], ...fields }) as never;

  it('maps the SDK result subtypes', () => {
    expect(
      classify({
        ...base,
        result: result({ subtype: 'success', is_error: false, stop_reason: 'end_turn' }),
      }),
    ).toEqual({
      stopReason: 'end_turn',
    });
    expect(
      classify({
        ...base,
        result: result({ subtype: 'success', is_error: false, stop_reason: 'max_tokens' }),
      }).stopReason,
    ).toBe('max_tokens');
    expect(classify({ ...base, result: result({ subtype: 'error_max_turns' }) })).toEqual({
      stopReason: 'max_turns',
    });
    expect(classify({ ...base, result: result({ subtype: 'error_max_budget_usd' }) })).toEqual({
      stopReason: 'budget',
    });
    expect(
      classify({
        ...base,
        result: result({ subtype: 'error_during_execution', errors: ['boom\nbang'] }),
      }),
    ).toEqual({ stopReason: 'error', error: 'claude-code stopped: boom bang' });
    expect(
      classify({
        ...base,
        result: result({ subtype: 'success', is_error: true, result: 'API Error: 500' }),
      }),
    ).toEqual({
      stopReason: 'error',
      error: 'claude-code reported an error: API Error: 500',
    });
  });

  it('names the gateway when a timed-out agent never reached it or the API was unreachable', () => {
    const base = {
      result: undefined,
      thrown: undefined,
      cancelled: false,
      budgetHit: false,
      timeoutS: 40,
      stderrTail: undefined,
    };
    expect(classify({ ...base, timedOut: true, gatewayRequests: 0 })).toEqual({
      stopReason: 'error',
      error: 'the agent never reached the model gateway in 40 s: no model request arrived',
    });
    expect(classify({ ...base, timedOut: true, gatewayRequests: 3 })).toEqual({
      stopReason: 'timeout',
      error: 'trial timed out after 40 s',
    });
    expect(
      classify({ ...base, timedOut: false, gatewayRequests: 1, unreachable: 'no route' }),
    ).toEqual({ stopReason: 'error', error: 'no route' });
  });

  it('puts timeout, cancellation and budget before whatever the agent reported', () => {
    const r = result({ subtype: 'success', is_error: true, result: 'x' });
    expect(classify({ ...base, result: r, timedOut: true })).toEqual({
      stopReason: 'timeout',
      error: 'trial timed out after 30 s',
    });
    expect(classify({ ...base, result: r, cancelled: true })).toEqual({
      stopReason: 'error',
      error: 'trial cancelled',
    });
    expect(classify({ ...base, result: r, budgetHit: true })).toEqual({ stopReason: 'budget' });
    expect(
      classify({
        ...base,
        result: undefined,
        thrown: new Error('spawn ENOENT'),
        stderrTail: 'oops',
      }),
    ).toEqual({
      stopReason: 'error',
      error: 'claude-code failed: spawn ENOENT (stderr: oops)',
    });
  });
});

/** The URL of a loopback port nothing listens on (port 1 is one fetch refuses outright). */
async function closedPortURL(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
