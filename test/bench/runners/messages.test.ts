import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  ContentBlock,
  Message,
  MessageCreateParamsNonStreaming,
} from '@anthropic-ai/sdk/resources/messages';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMessagesRunner, type MessagesPort } from '../../../src/bench/runners/messages.js';
import { createSandbox, type Sandbox } from '../../../src/bench/sandbox/index.js';
import { loadSkill } from '../../../src/bench/skill.js';
import type { Probe, ProbeLimits, RunnerInput, Skill } from '../../../src/bench/types.js';
import { CacheWarmer } from '../../../src/model/cache-warm.js';
import type { Usage } from '../../../src/model/usage.js';

const SKILL_DIR = path.resolve('test/fixtures/bench-bad/skill');
const PROMPT = 'Write the answer to answer.txt.';

let skill: Skill;
let sandbox: Sandbox;
let ws: string;

beforeAll(async () => {
  skill = await loadSkill(SKILL_DIR);
  sandbox = await createSandbox('auto', { secretInReach: false });
});

beforeEach(async () => {
  ws = await realpath(await mkdtemp(path.join(tmpdir(), 'messages-runner-test-')));
  await writeFile(path.join(ws, 'notes.txt'), 'hello\n');
});

afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

type Block = Record<string, unknown>;
/** Content, system or tools as plain blocks (a string or nothing gives none). */
const blocks = (value: unknown): Block[] => (Array.isArray(value) ? (value as Block[]) : []);

function usage(u: Partial<Usage> = {}): Usage {
  return {
    input_tokens: 10,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...u,
  };
}

function message(content: Block[], over: { stop_reason?: string; usage?: Partial<Usage> } = {}) {
  const hasTool = content.some((b) => b.type === 'tool_use');
  return {
    id: 'msg_test',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: content as unknown as ContentBlock[],
    stop_reason: over.stop_reason ?? (hasTool ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: usage(over.usage),
  } as unknown as Message;
}

const text = (t: string): Block => ({ type: 'text', text: t });
const toolUse = (id: string, name: string, input: Block): Block => ({
  type: 'tool_use',
  id,
  name,
  input,
});

interface Call {
  params: MessageCreateParamsNonStreaming;
  tag: string;
  signal: AbortSignal | undefined;
  headers: Record<string, string> | undefined;
}

/** A model port answering from a list (the last answer repeats), recording every call. */
function fakeModel(
  answers: Array<Message | ((call: Call) => Message | Promise<Message>)>,
): MessagesPort & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async create(params, meta) {
      const call = {
        params: structuredClone(params),
        tag: meta.tag,
        signal: meta.signal,
        headers: meta.headers,
      };
      calls.push(call);
      const answer = answers[Math.min(calls.length, answers.length) - 1];
      if (answer === undefined) throw new Error('fake model has no answers');
      return typeof answer === 'function' ? answer(call) : answer;
    },
  };
}

function probe(limits: Partial<ProbeLimits> = {}): Probe {
  return {
    id: 'unit/probe',
    dir: ws,
    prompt: PROMPT,
    limits: {
      max_turns: 5,
      max_output_tokens: 777,
      max_total_tokens: 1_000_000,
      timeout_s: 60,
      ...limits,
    },
    tags: [],
    heldout: false,
    workspaceDir: ws,
    graderPath: path.join(ws, 'grader.mjs'),
  };
}

function input(p: Probe, withSkill: boolean, signal = new AbortController().signal): RunnerInput {
  return {
    probe: p,
    skill: withSkill ? skill : null,
    model: 'claude-test',
    workspaceDir: ws,
    signal,
  };
}

const firstCall = (model: { calls: Call[] }) => model.calls[0] as Call;

describe('messages runner: what the model is sent', () => {
  it('loads the skill (frontmatter and body) as cached system context', async () => {
    const model = fakeModel([message([text('Done.')])]);
    const runner = createMessagesRunner({ model, sandbox });
    await runner.runTrial(input(probe(), true));

    const { params, tag, signal, headers } = firstCall(model);
    expect(tag).toBe('trial');
    expect(signal).toBeInstanceOf(AbortSignal);
    // the trial's name, the same in every run of the suite: replays key trial answers by it
    expect(headers).toEqual({ 'x-skill-optimizer-trial': `unit/probe#${path.basename(ws)}` });
    expect(params.model).toBe('claude-test');
    expect(params.max_tokens).toBe(777);
    const system = blocks(params.system);
    expect(system).toHaveLength(2);
    expect(system[0]).not.toHaveProperty('cache_control');
    expect(system[1]).toMatchObject({ type: 'text', cache_control: { type: 'ephemeral' } });
    const skillText = String(system[1]?.text);
    expect(skillText).toContain('<skill name="answer-skill" files="reference/notes.md">');
    // The raw SKILL.md: frontmatter (every key) and body.
    expect(skillText).toContain(skill.raw);
    expect(skillText).toContain('license: MIT');
    expect(skillText).toContain('SKILL-BODY-MARKER-5521');
    expect(skillText).toContain('read_skill_file');

    const tools = blocks(params.tools);
    expect(tools.map((t) => t.name)).toContain('read_skill_file');
    expect(tools.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(tools.slice(0, -1).some((t) => 'cache_control' in t)).toBe(false);
    expect(params.messages).toEqual([
      {
        role: 'user',
        content: [{ type: 'text', text: PROMPT, cache_control: { type: 'ephemeral' } }],
      },
    ]);
  });

  it('sends a baseline trial no skill and no read_skill_file tool', async () => {
    const model = fakeModel([message([text('Done.')])]);
    await createMessagesRunner({ model, sandbox }).runTrial(input(probe(), false));

    const { params } = firstCall(model);
    expect(blocks(params.system)).toHaveLength(1);
    const sent = JSON.stringify(params);
    expect(sent).not.toContain('SKILL-BODY-MARKER-5521');
    expect(sent).not.toContain('answer-skill');
    expect(sent).not.toContain('read_skill_file');
  });

  it('lets the skill agent read its skill files', async () => {
    const model = fakeModel([
      message([toolUse('toolu_1', 'read_skill_file', { path: 'reference/notes.md' })]),
      message([text('Read it.')]),
    ]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(input(probe(), true));
    expect(out.transcript[2]?.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_1',
        content: 'NOTES-MARKER-8813: the answer has two digits.\n',
      },
    ]);
  });
});

describe('messages runner: the loop', () => {
  it('records a Messages-shaped transcript, the final text and usage summed over turns', async () => {
    const turn1 = [
      text('Looking first.'),
      toolUse('toolu_a', 'read_file', { path: 'notes.txt' }),
      toolUse('toolu_b', 'write_file', { path: 'answer.txt', content: '42\n' }),
    ];
    const turn2 = [text('Done.'), text('The answer is in answer.txt.')];
    const model = fakeModel([
      message(turn1, {
        usage: { input_tokens: 100, output_tokens: 30, cache_creation_input_tokens: 400 },
      }),
      message(turn2, {
        usage: { input_tokens: 7, output_tokens: 11, cache_read_input_tokens: 400 },
      }),
    ]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(input(probe(), true));

    expect(out.error).toBeUndefined();
    expect(out.stopReason).toBe('end_turn');
    expect(out.finalMessage).toBe('Done.\nThe answer is in answer.txt.');
    expect(out.usage).toEqual({
      input_tokens: 107,
      output_tokens: 41,
      cache_creation_input_tokens: 400,
      cache_read_input_tokens: 400,
    });
    expect(out.transcript).toEqual([
      { role: 'user', content: PROMPT },
      { role: 'assistant', content: turn1 },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a', content: 'hello\n' },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: 'Wrote 3 bytes to answer.txt.' },
        ],
      },
      { role: 'assistant', content: turn2 },
    ]);
    expect(await readFile(path.join(ws, 'answer.txt'), 'utf8')).toBe('42\n');
    // Turn 2 sees the whole conversation, cache-marked on its newest block only.
    const second = model.calls[1]?.params.messages ?? [];
    expect(second).toHaveLength(3);
    expect(JSON.stringify(second.slice(0, 2))).not.toContain('cache_control');
    expect(blocks(second[2]?.content).at(-1)?.cache_control).toEqual({
      type: 'ephemeral',
    });
  });

  it('sends errors back as is_error tool results and goes on', async () => {
    const model = fakeModel([
      message([toolUse('toolu_1', 'delete_everything', {})]),
      message([toolUse('toolu_2', 'edit_file', { path: 'notes.txt' })]),
      message([toolUse('toolu_3', 'read_file', { path: '../../etc/hostname' })]),
      message([text('Giving up.')]),
    ]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(input(probe(), false));
    expect(out.stopReason).toBe('end_turn');
    const results = [2, 4, 6].map((i) => blocks(out.transcript[i]?.content)[0]);
    expect(results.map((r) => r?.is_error)).toEqual([true, true, true]);
    expect(results[0]?.content).toBe("Unknown tool 'delete_everything'.");
    expect(results[1]?.content).toMatch(/^Invalid input for edit_file: old_text: /);
    expect(results[2]?.content).toMatch(/resolves outside /);
  });

  it('stops at max_turns', async () => {
    const model = fakeModel([message([toolUse('toolu_1', 'list_files', {})])]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(
      input(probe({ max_turns: 2 }), false),
    );
    expect(out.stopReason).toBe('max_turns');
    expect(out.error).toBeUndefined();
    expect(model.calls).toHaveLength(2);
    expect(out.transcript).toHaveLength(5);
  });

  it('stops with budget once the trial spends max_total_tokens', async () => {
    const model = fakeModel([
      message([toolUse('toolu_1', 'list_files', {})], {
        usage: { input_tokens: 60, output_tokens: 20, cache_read_input_tokens: 30 },
      }),
    ]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(
      input(probe({ max_total_tokens: 100 }), false),
    );
    expect(out.stopReason).toBe('budget');
    expect(out.error).toBeUndefined();
    expect(model.calls).toHaveLength(1);
  });

  it.each([
    ['max_tokens', 'max_tokens'],
    ['refusal', 'refusal'],
    ['stop_sequence', 'end_turn'],
  ])('maps the API stop reason %s to %s', async (api, ours) => {
    const model = fakeModel([message([text('Partial')], { stop_reason: api })]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(input(probe(), false));
    expect(out.stopReason).toBe(ours);
    expect(out.finalMessage).toBe('Partial');
  });

  it('ends the trial when the workspace grows past the cap', async () => {
    const model = fakeModel([
      message([toolUse('toolu_1', 'write_file', { path: 'big.txt', content: 'x'.repeat(2000) })]),
    ]);
    const out = await createMessagesRunner({ model, sandbox, maxWorkspaceBytes: 1000 }).runTrial(
      input(probe(), false),
    );
    expect(out.stopReason).toBe('error');
    // notes.txt (6 bytes) + big.txt.
    expect(out.error).toBe(
      'workspace grew to 2,006 bytes, over the limit of 1,000 bytes for a trial',
    );
  });
});

describe('messages runner: time', () => {
  it('ends a trial that outlives timeout_s as a timeout', async () => {
    const model = fakeModel([
      ({ signal }) =>
        new Promise<Message>((_, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    ]);
    const out = await createMessagesRunner({ model, sandbox }).runTrial(
      input(probe({ timeout_s: 1 }), false),
    );
    expect(out.stopReason).toBe('timeout');
    expect(out.error).toBe('trial timed out after 1 s');
  });

  it('reports a failed model call and a cancelled trial as errors', async () => {
    const failing = fakeModel([
      () => {
        throw new Error('Anthropic API overloaded (529) after 6 attempts');
      },
    ]);
    const failed = await createMessagesRunner({ model: failing, sandbox }).runTrial(
      input(probe(), false),
    );
    expect(failed.stopReason).toBe('error');
    expect(failed.error).toBe('model call failed: Anthropic API overloaded (529) after 6 attempts');

    const idle = fakeModel([message([text('never asked')])]);
    const cancel = new AbortController();
    cancel.abort();
    const cancelled = await createMessagesRunner({ model: idle, sandbox }).runTrial(
      input(probe(), false, cancel.signal),
    );
    expect(cancelled).toMatchObject({ stopReason: 'error', error: 'trial cancelled' });
    expect(idle.calls).toHaveLength(0);
  });

  it("limits a command's timeout to what is left of the trial", async () => {
    let clock = 1_000_000;
    const model = fakeModel([
      () => {
        // 58.5 s of the 60 s trial are gone by the time the model asks for a command.
        clock += 58_500;
        return message([toolUse('toolu_1', 'run_command', { command: 'sleep 30' })]);
      },
      message([text('Done.')]),
    ]);
    const out = await createMessagesRunner({ model, sandbox, now: () => clock }).runTrial(
      input(probe({ timeout_s: 60 }), false),
    );
    expect(out.transcript[2]?.content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: '[timed out after 1500 ms]' },
    ]);
  });
});

describe('messages runner: warming the prompt cache', () => {
  it('holds a concurrent trial until the call writing the shared skill prefix has answered', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const model = fakeModel([
      async () => {
        await gate;
        return message([text('Done.')]);
      },
      message([text('Done.')]),
    ]);
    // Every prefix is cacheable for the test model, so the two trials share the skill prefix.
    const cacheWarmer = new CacheWarmer({ minCacheableTokens: { 'claude-test': 0 } });
    const runner = createMessagesRunner({ model, sandbox, cacheWarmer });
    const first = runner.runTrial(input(probe(), true));
    const second = runner.runTrial(input(probe(), true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(model.calls).toHaveLength(1);
    release();
    await Promise.all([first, second]);
    expect(model.calls).toHaveLength(2);
  });

  it('sends concurrent trials at once without a warmer', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const model = fakeModel([
      async () => {
        await gate;
        return message([text('Done.')]);
      },
      message([text('Done.')]),
    ]);
    const runner = createMessagesRunner({ model, sandbox, cacheWarmer: null });
    const both = Promise.all([
      runner.runTrial(input(probe(), true)),
      runner.runTrial(input(probe(), true)),
    ]);
    await vi.waitFor(() => expect(model.calls).toHaveLength(2));
    release();
    await both;
  });
});
