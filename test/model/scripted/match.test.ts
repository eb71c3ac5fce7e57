import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ask, clientFor, firstText, serve } from './helpers.js';

const conversation = (turns: string[]): Anthropic.MessageCreateParamsNonStreaming => ({
  model: 'claude-test-1',
  max_tokens: 10,
  messages: turns.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
});

describe('rule matching', () => {
  it('matches on turn, system prompt, last user text, contains and not_contains', async () => {
    const server = await serve(`
rules:
  - name: second-turn
    when: { turn: { min: 2 }, last_user_contains: [alpha, beta] }
    reply: { content: [{ type: text, text: second }] }
  - name: reviewer
    when: { system_contains: You review code, not_contains: skip-me }
    reply: { content: [{ type: text, text: review }] }
  - name: anywhere
    when: { contains: needle }
    reply: { content: [{ type: text, text: found }] }
  - name: fallback
    reply: { content: [{ type: text, text: fallback }] }
`);
    const client = clientFor(server);
    const text = async (p: Anthropic.MessageCreateParamsNonStreaming) =>
      firstText(await client.messages.create(p));

    expect(await text(conversation(['x', 'y', 'alpha and beta']))).toBe('second');
    expect(await text(conversation(['alpha and beta']))).toBe('fallback'); // turn 1
    expect(await text(conversation(['x', 'y', 'alpha only']))).toBe('fallback'); // both needed
    expect(await text({ ...ask('hi'), system: 'You review code.' })).toBe('review');
    expect(await text({ ...ask('skip-me'), system: 'You review code.' })).toBe('fallback');
    expect(await text(conversation(['the needle is here', 'ok', 'next']))).toBe('found');
  });

  it('reads tool_result content as last user text and role "system" messages as system', async () => {
    const server = await serve(`
rules:
  - name: env
    when: { system_contains: 'Primary working directory' }
    reply: { content: [{ type: text, text: env }] }
  - name: saw-result
    when: { last_user_contains: 'exit code 0' }
    reply: { content: [{ type: text, text: result seen }] }
`);
    const client = clientFor(server);
    const afterTool = await client.messages.create({
      ...ask('run it'),
      messages: [
        { role: 'user', content: 'run it' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'sh', input: {} }],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [{ type: 'text', text: 'exit code 0' }],
            },
          ],
        },
      ],
    });
    expect(firstText(afterTool)).toBe('result seen');

    // Claude Code sends its environment section as a role "system" message.
    const body = {
      model: 'm',
      max_tokens: 5,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'Primary working directory: /tmp/x' },
      ],
    };
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(((await res.json()) as Anthropic.Message).content[0]).toMatchObject({ text: 'env' });
  });

  it('matches the model exactly or by /regex/, and offered tools', async () => {
    const server = await serve(`
rules:
  - when: { model: /^claude-haiku-/i }
    reply: { content: [{ type: text, text: small }] }
  - when: { model: claude-opus-9 }
    reply: { content: [{ type: text, text: big }] }
  - when: { tool_offered: Write, tool_not_offered: Bash }
    reply: { content: [{ type: text, text: can write }] }
  - reply: { content: [{ type: text, text: other }] }
`);
    const client = clientFor(server);
    const text = async (p: Anthropic.MessageCreateParamsNonStreaming) =>
      firstText(await client.messages.create(p));
    const tool = (name: string) => ({ name, input_schema: { type: 'object' as const } });

    expect(await text({ ...ask('x'), model: 'Claude-Haiku-5' })).toBe('small');
    expect(await text({ ...ask('x'), model: 'claude-opus-9' })).toBe('big');
    expect(await text({ ...ask('x'), model: 'claude-opus-9-1' })).toBe('other');
    expect(await text({ ...ask('x'), tools: [tool('Write')] })).toBe('can write');
    expect(await text({ ...ask('x'), tools: [tool('Write'), tool('Bash')] })).toBe('other');
  });

  it('uses a rule `times` times, then falls through', async () => {
    const server = await serve(`
rules:
  - name: twice
    times: 2
    reply: { content: [{ type: text, text: limited }] }
  - name: after
    reply: { content: [{ type: text, text: unlimited }] }
`);
    const client = clientFor(server);
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) texts.push(firstText(await client.messages.create(ask('x'))));
    expect(texts).toEqual(['limited', 'limited', 'unlimited', 'unlimited']);
    expect(server.requests.map((r) => r.rule)).toEqual(['twice', 'twice', 'after', 'after']);
  });

  it('fills {{name}} from named groups of `matches`', async () => {
    const server = await serve(`
rules:
  - when: { matches: 'directory: (?<dir>\\S+)' }
    reply:
      content:
        - { type: text, text: 'writing in {{dir}}' }
        - { type: tool_use, name: Write, input: { file_path: '{{dir}}/out.txt', lines: ['{{ dir }}'] } }
`);
    const message = await clientFor(server).messages.create(ask('working directory: /tmp/abc'));
    expect(firstText(message)).toBe('writing in /tmp/abc');
    expect(message.content[1]).toMatchObject({
      input: { file_path: '/tmp/abc/out.txt', lines: ['/tmp/abc'] },
    });
  });
});

describe('nth / every under concurrency', () => {
  const PROBE_SCRIPT = `
rules:
  - name: failing-path
    when: { nth: [2] }
    reply: { content: [{ type: text, text: wrong answer }] }
  - name: every-third
    when: { every: { n: 1, of: 3 }, contains: batch }
    reply: { content: [{ type: text, text: sampled }] }
  - name: good-path
    when: { turn: 1 }
    reply: { content: [{ type: text, text: right answer }] }
  - name: follow-up
    when: { turn: 2, last_user_contains: wrong answer }
    reply: { content: [{ type: text, text: stays wrong }] }
`;

  it('sends exactly one of three concurrent identical trials down the failing path', async () => {
    for (let round = 0; round < 3; round++) {
      const server = await serve(PROBE_SCRIPT);
      const client = clientFor(server);
      const trials = await Promise.all(
        [1, 2, 3].map(() => client.messages.create(ask('solve the probe'))),
      );
      const texts = trials.map(firstText).sort();
      expect(texts).toEqual(['right answer', 'right answer', 'wrong answer']);
    }
  });

  it('counts per conversation key: a different prompt or model has its own count', async () => {
    const server = await serve(PROBE_SCRIPT);
    const client = clientFor(server);
    const a1 = await client.messages.create(ask('probe A'));
    const b1 = await client.messages.create(ask('probe B'));
    const c1 = await client.messages.create({ ...ask('probe A'), model: 'another-model' });
    const a2 = await client.messages.create(ask('probe A'));
    expect([a1, b1, c1, a2].map(firstText)).toEqual([
      'right answer',
      'right answer',
      'right answer',
      'wrong answer',
    ]);
    // Later turns are not counted and follow the path by content.
    const later = await client.messages.create(
      conversation(['probe A', 'wrong answer', 'are you sure? you said: wrong answer']),
    );
    expect(firstText(later)).toBe('stays wrong');
    const a3 = await client.messages.create(ask('probe A'));
    expect(firstText(a3)).toBe('right answer');
  });

  it('takes the first n of every `of` trials', async () => {
    const server = await serve(PROBE_SCRIPT.replace('nth: [2]', 'nth: [99]'));
    const client = clientFor(server);
    const trials = await Promise.all(
      Array.from({ length: 7 }, () => client.messages.create(ask('batch job'))),
    );
    expect(trials.map(firstText).filter((t) => t === 'sampled')).toHaveLength(3); // 1, 4, 7
  });

  it('keeps the ordinal of a session on retries; anonymous retries match no nth', async () => {
    const server = await serve(PROBE_SCRIPT);
    const send = async (headers: Record<string, string>) => {
      const res = await fetch(`${server.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(ask('probe S')),
      });
      const block = ((await res.json()) as Anthropic.Message).content[0];
      return block?.type === 'text' ? block.text : '';
    };
    expect(await send({ 'x-claude-code-session-id': 's1' })).toBe('right answer'); // #1
    expect(await send({ 'x-claude-code-session-id': 's2' })).toBe('wrong answer'); // #2
    const retry = { 'x-claude-code-session-id': 's2', 'x-stainless-retry-count': '1' };
    expect(await send(retry)).toBe('wrong answer'); // still #2
    expect(await send({ 'x-stainless-retry-count': '1' })).toBe('right answer'); // no ordinal
    expect(await send({})).toBe('right answer'); // #3
  });
});
