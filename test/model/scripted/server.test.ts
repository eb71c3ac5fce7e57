import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { countInputTokens, estimateTokens } from '../../../src/model/scripted/cache.js';
import { messagesRequestSchema } from '../../../src/model/scripted/request.js';
import { loadScript } from '../../../src/model/scripted/script.js';
import { startScriptedServer } from '../../../src/model/scripted/server.js';
import { ask, clientFor, firstText, serve } from './helpers.js';

const readTool = {
  name: 'read_file',
  description: 'Read a file',
  input_schema: { type: 'object' as const, properties: { path: { type: 'string' } } },
};

const TOOL_SCRIPT = `
rules:
  - name: read
    when: { turn: 1, tool_offered: read_file }
    reply:
      content:
        - { type: text, text: Let me look. }
        - { type: tool_use, name: read_file, input: { path: README.md } }
  - name: answer
    when: { turn: 2, last_user_contains: '# Demo' }
    reply:
      content: [{ type: text, text: It is a demo project. }]
`;

describe('scripted server with the official SDK', () => {
  it('answers a non-streaming request with text, usage and API headers', async () => {
    const server = await serve(`
rules:
  - name: hi
    reply: { content: [{ type: text, text: 'Hello there, script author.' }] }
`);
    const params = ask('hello');
    const { data, response } = await clientFor(server).messages.create(params).withResponse();

    expect(data.content).toEqual([{ type: 'text', text: 'Hello there, script author.' }]);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.model).toBe('claude-test-1');
    expect(data.id).toMatch(/^msg_/);
    expect(data.usage).toMatchObject({
      input_tokens: countInputTokens(messagesRequestSchema.parse(params)),
      output_tokens: estimateTokens('Hello there, script author.'),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ path: '/v1/messages', rule: 'hi' });
    // SDK 1.x sends the API key as a bearer token.
    expect(server.requests[0]?.headers.authorization).toBe('Bearer dummy');
    expect(server.requests[0]?.body).toMatchObject({ model: 'claude-test-1' });
  });

  it('answers tool_use then the follow-up turn, non-streaming', async () => {
    const server = await serve(TOOL_SCRIPT);
    const client = clientFor(server);
    const first = await client.messages.create({ ...ask('What is in README?'), tools: [readTool] });

    expect(first.stop_reason).toBe('tool_use');
    const toolUse = first.content[1];
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'read_file' });
    expect(toolUse?.type === 'tool_use' && toolUse.input).toEqual({ path: 'README.md' });
    expect(toolUse?.type === 'tool_use' && toolUse.id).toMatch(/^toolu_/);

    const id = toolUse?.type === 'tool_use' ? toolUse.id : '';
    const second = await client.messages.create({
      model: 'claude-test-1',
      max_tokens: 100,
      tools: [readTool],
      messages: [
        { role: 'user', content: 'What is in README?' },
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: id, content: '# Demo\nA demo.' }],
        },
      ],
    });
    expect(firstText(second)).toBe('It is a demo project.');
    expect(server.requests.map((r) => r.rule)).toEqual(['read', 'answer']);
  });

  it('streams text and tool_use through messages.stream()', async () => {
    const server = await serve(`
rules:
  - reply:
      content:
        - { type: text, text: "A long enough sentence that it arrives in several text deltas." }
        - { type: tool_use, name: read_file, input: { path: docs/guide/intro.md, lines: [1, 2, 3] } }
`);
    const stream = clientFor(server).messages.stream({ ...ask('go'), tools: [readTool] });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();

    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('A long enough sentence that it arrives in several text deltas.');
    expect(message.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'read_file',
      input: { path: 'docs/guide/intro.md', lines: [1, 2, 3] },
    });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage.output_tokens).toBeGreaterThan(1);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('streams the API event sequence through create({ stream: true })', async () => {
    const server = await serve(`
rules:
  - reply: { content: [{ type: text, text: hi }], stop_reason: max_tokens, usage: { output_tokens: 42 } }
`);
    const { data: stream, response } = await clientFor(server)
      .messages.create({ ...ask('go'), stream: true })
      .withResponse();
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);

    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const delta = events.find((e) => e.type === 'message_delta');
    expect(delta?.type === 'message_delta' && delta.delta.stop_reason).toBe('max_tokens');
    expect(delta?.type === 'message_delta' && delta.usage.output_tokens).toBe(42);
  });

  it('answers count_tokens with the same estimate as the usage', async () => {
    const server = await serve('rules: [{ reply: { content: [{ type: text, text: x }] } }]');
    const params = { model: 'claude-test-1', messages: ask('count me please').messages };
    const counted = await clientFor(server).messages.countTokens(params);
    expect(counted.input_tokens).toBe(countInputTokens(messagesRequestSchema.parse(params)));
    expect(server.requests[0]).toMatchObject({ path: '/v1/messages/count_tokens', rule: null });
  });

  it('accepts the ?beta=true query string Claude Code uses', async () => {
    const server = await serve('rules: [{ reply: { content: [{ type: text, text: beta ok }] } }]');
    const message = await clientFor(server).beta.messages.create(ask('x'));
    expect(firstText(message as unknown as Anthropic.Message)).toBe('beta ok');
    expect(server.requests[0]?.path).toBe('/v1/messages');
  });
});

describe('scripted server on the wire', () => {
  const post = (url: string, body: string) =>
    fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('answers unknown routes with a 404 in the API error shape', async () => {
    const server = await serve('rules: [{ reply: { content: [{ type: text, text: x }] } }]');
    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error', message: expect.stringContaining('GET /v1/models') },
    });
    expect((await fetch(`${server.url}/api/hello`, { method: 'HEAD' })).status).toBe(200);
  });

  it('rejects bad bodies with 400 and keeps serving', async () => {
    const server = await serve('rules: [{ reply: { content: [{ type: text, text: fine } ] } }]');
    const notJson = await post(server.url, '{"model": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const noMessages = await post(server.url, '{"model": "m", "max_tokens": 1}');
    expect(noMessages.status).toBe(400);
    expect(await noMessages.json()).toMatchObject({
      error: { message: expect.stringContaining('messages') },
    });
    const badContent = await post(
      server.url,
      '{"model":"m","messages":[{"role":"user","content":7}]}',
    );
    expect(badContent.status).toBe(400);
    expect(firstText(await clientFor(server).messages.create(ask('x')))).toBe('fine');
  });

  it('names the turn and last user text when no rule matches', async () => {
    const server = await serve(`
rules:
  - when: { turn: 1 }
    reply: { content: [{ type: text, text: only turn one }] }
`);
    const request = clientFor(server).messages.create({
      model: 'claude-test-1',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'start' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'the unexpected follow-up' },
      ],
    });
    await expect(request).rejects.toMatchObject({
      status: 400,
      error: {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: expect.stringMatching(/turn 2.*the unexpected follow-up/),
        },
      },
    });
    expect(server.requests[0]?.rule).toBeNull();
  });

  it('loads a fixture script and serves concurrent requests', async () => {
    const script = await loadScript('test/fixtures/scripts/basic.yaml');
    const server = await startScriptedServer({ script });
    try {
      const client = clientFor(server);
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => client.messages.create(ask('hello'))),
      );
      expect(answers.map(firstText)).toEqual(Array(8).fill('Hello! How can I help you today?'));
    } finally {
      await server.close();
    }
  });
});
