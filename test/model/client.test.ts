import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelUnavailableError } from '../../src/errors.js';
import { createModelClient, ModelRequestError, parseRetryAfter } from '../../src/model/client.js';
import { CostLedger } from '../../src/model/ledger.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { startScriptedServer } from '../../src/model/scripted/server.js';
import {
  API,
  API_KEY,
  errorBody,
  fakeTime,
  memoryLog,
  sseReply,
  textReply,
} from './api-replies.js';

const params = {
  model: 'claude-haiku-4-5-20251001',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

function setup(
  extra: Parameters<typeof createModelClient>[0] extends infer O ? Partial<O> : never = {},
) {
  const time = fakeTime();
  const sink = memoryLog();
  const ledger = new CostLedger();
  const client = createModelClient({
    apiKey: API_KEY,
    sleep: time.sleep,
    now: time.now,
    random: () => 0.5,
    log: sink.log,
    ledger,
    ...extra,
  });
  return { client, time, sink, ledger };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected the call to fail');
  return error;
}

function expectNoKey(texts: string[]) {
  for (const text of texts) {
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain('TESTKEY');
  }
}

afterEach(() => {
  nock.cleanAll();
  vi.unstubAllEnvs();
});

describe('createModelClient', () => {
  it('sends the request with the key and records usage, cache fields included, in the ledger', async () => {
    let body: unknown;
    const scope = nock(API)
      .post('/v1/messages', (b) => {
        body = b;
        return true;
      })
      .matchHeader('authorization', `Bearer ${API_KEY}`)
      .reply(
        200,
        textReply('hello', {
          usage: {
            input_tokens: 1000,
            output_tokens: 200,
            cache_creation_input_tokens: 4000,
            cache_read_input_tokens: null,
          },
        }),
      );
    const { client, ledger } = setup();
    const message = await client.create(params, { tag: 'executor' });
    expect(message.content).toEqual([{ type: 'text', text: 'hello' }]);
    expect(body).toEqual(params);
    expect(scope.isDone()).toBe(true);
    const [entry] = ledger.entries();
    expect(entry).toMatchObject({
      tag: 'executor',
      model: 'claude-haiku-4-5-20251001',
      usage: {
        input_tokens: 1000,
        output_tokens: 200,
        cache_creation_input_tokens: 4000,
        cache_read_input_tokens: 0,
      },
      priced: true,
    });
    // Haiku 4.5: 1000 × $1 + 4000 × $1.25 (5-min cache write) + 200 × $5, per million.
    expect(entry?.cost_usd).toBeCloseTo(0.007, 10);
  });

  it('never reads ANTHROPIC_BASE_URL or ANTHROPIC_API_KEY itself', async () => {
    vi.stubEnv('ANTHROPIC_BASE_URL', 'http://env-host.invalid');
    vi.stubEnv('ANTHROPIC_API_KEY', 'sk-ant-from-env');
    const scope = nock(API)
      .post('/v1/messages')
      .matchHeader('authorization', `Bearer ${API_KEY}`)
      .reply(200, textReply('ok'));
    const { client } = setup();
    await client.create(params, { tag: 't' });
    expect(scope.isDone()).toBe(true);
  });

  it('uses the given Anthropic-compatible base URL', async () => {
    const scope = nock('https://llm.internal.test:8443')
      .post('/v1/messages')
      .reply(200, textReply('local'));
    const { client } = setup({ baseURL: 'https://llm.internal.test:8443' });
    const message = await client.create(params, { tag: 't' });
    expect(message.content[0]).toEqual({ type: 'text', text: 'local' });
    expect(scope.isDone()).toBe(true);
  });

  it('honours retry-after on 429, then succeeds', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(429, errorBody('rate_limit_error', 'slow down'), { 'retry-after': '7' })
      .post('/v1/messages')
      .reply(429, errorBody('rate_limit_error', 'slow down'), { 'retry-after-ms': '2500' })
      .post('/v1/messages')
      .reply(200, textReply('finally'));
    const { client, time, sink, ledger } = setup();
    const message = await client.create(params, { tag: 'trial' });
    expect(message.content[0]).toEqual({ type: 'text', text: 'finally' });
    expect(time.waits).toEqual([7000, 2500]);
    expect(scope.isDone()).toBe(true);
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toBe(
      'warn Anthropic API rate limit reached (429) on attempt 1/6 (trial call to claude-haiku-4-5-20251001); retrying in 7.0 s.',
    );
    expect(ledger.entries()).toHaveLength(1);
  });

  it('caps a long retry-after at maxWaitMs', async () => {
    nock(API)
      .post('/v1/messages')
      .reply(429, errorBody('rate_limit_error', 'x'), { 'retry-after': '3600' })
      .post('/v1/messages')
      .reply(200, textReply('ok'));
    const { client, time } = setup({ maxWaitMs: 30_000 });
    await client.create(params, { tag: 't' });
    expect(time.waits).toEqual([30_000]);
  });

  it('retries 500 with exponential backoff, then succeeds', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(500, errorBody('api_error', 'boom'))
      .post('/v1/messages')
      .reply(503, errorBody('api_error', 'boom'))
      .post('/v1/messages')
      .reply(200, textReply('ok'));
    const { client, time } = setup();
    await client.create(params, { tag: 't' });
    // base 1 s doubled per attempt, jitter 0.5 → 75% of the exponential step.
    expect(time.waits).toEqual([750, 1500]);
    expect(scope.isDone()).toBe(true);
  });

  it.each([408, 409])('retries %i', async (status) => {
    nock(API)
      .post('/v1/messages')
      .reply(status, errorBody('api_error', 'x'))
      .post('/v1/messages')
      .reply(200, textReply('ok'));
    const { client, time } = setup();
    await client.create(params, { tag: 't' });
    expect(time.waits).toHaveLength(1);
  });

  it('gives up on a 529 storm with ModelUnavailableError in plain words', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .times(6)
      .reply(529, errorBody('overloaded_error', 'Overloaded'));
    const { client, time, sink, ledger } = setup();
    const error = await failure(client.create(params, { tag: 'optimizer' }));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    // Waits: 750 + 1500 + 3000 + 6000 + 12000 ms = 23.25 s.
    expect(time.waits).toEqual([750, 1500, 3000, 6000, 12_000]);
    expect(error.message).toBe(
      'Anthropic API overloaded (529) after 6 attempts over 23 s (optimizer call to claude-haiku-4-5-20251001); try again later.',
    );
    expect(scope.isDone()).toBe(true);
    expect(sink.lines).toHaveLength(5);
    expect(ledger.entries()).toHaveLength(0);
  });

  it('respects maxAttempts and caps each wait', async () => {
    nock(API).post('/v1/messages').times(3).reply(529, errorBody('overloaded_error', 'x'));
    const { client, time } = setup({ maxAttempts: 3, baseDelayMs: 10_000, maxWaitMs: 12_000 });
    const error = await failure(client.create(params, { tag: 't' }));
    // Steps 10 s then min(20 s, cap 12 s), each jittered to 75%.
    expect(time.waits).toEqual([7500, 9000]);
    expect(error.message).toContain('after 3 attempts over 17 s');
  });

  it.each([
    [
      400,
      'invalid_request_error',
      'Anthropic API rejected the t call to claude-haiku-4-5-20251001 (400): bad field (request id req_42)',
    ],
    [
      401,
      'authentication_error',
      'Anthropic API rejected the API key (401) for the t call to claude-haiku-4-5-20251001; check ANTHROPIC_API_KEY: bad field',
    ],
    [
      403,
      'permission_error',
      'Anthropic API refused the t call to claude-haiku-4-5-20251001 (403 permission denied): bad field',
    ],
    [
      404,
      'not_found_error',
      'Anthropic API does not know the t call to claude-haiku-4-5-20251001 (404; check the model id): bad field',
    ],
    [
      422,
      'invalid_request_error',
      'Anthropic API rejected the t call to claude-haiku-4-5-20251001 (422): bad field',
    ],
  ])('does not retry %i', async (status, type, message) => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(
        status,
        errorBody(type, 'bad field'),
        status === 400 ? { 'request-id': 'req_42' } : {},
      );
    const { client, time } = setup();
    const error = await failure(client.create(params, { tag: 't' }));
    expect(error).toBeInstanceOf(ModelRequestError);
    expect((error as ModelRequestError).status).toBe(status);
    expect(error.message).toBe(message);
    expect(time.waits).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it('retries a connection error, then succeeds', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .replyWithError('socket hang up')
      .post('/v1/messages')
      .reply(200, textReply('ok'));
    const { client, time, sink } = setup();
    await client.create(params, { tag: 't' });
    expect(time.waits).toEqual([750]);
    expect(sink.lines[0]).toContain('Could not connect to the Anthropic API at api.anthropic.com');
    expect(scope.isDone()).toBe(true);
  });

  it('retries a timed-out attempt', async () => {
    // nock's delay ignores abort signals, so the hanging server is a fetch that waits to be aborted.
    let calls = 0;
    const hangOnce: typeof fetch = (_input, init) => {
      calls++;
      if (calls > 1) return Promise.resolve(Response.json(textReply('in time')));
      return new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    };
    const { client, sink, time } = setup({ timeoutMs: 50, fetch: hangOnce });
    const message = await client.create(params, { tag: 't' });
    expect(message.content[0]).toEqual({ type: 'text', text: 'in time' });
    expect(calls).toBe(2);
    expect(time.waits).toEqual([750]);
    expect(sink.lines[0]).toContain('Anthropic API did not answer within 50 ms');
  });

  it('does not retry when the caller aborts', async () => {
    nock(API).post('/v1/messages').delay(2000).reply(200, textReply('late'));
    const { client, time } = setup();
    const controller = new AbortController();
    const pending = client.create(params, { tag: 't', signal: controller.signal });
    controller.abort();
    const error = await failure(pending);
    expect(error.name).toBe('APIUserAbortError');
    expect(time.waits).toEqual([]);
  });

  it('never puts the API key in an error or a log line', async () => {
    const echo = `invalid x-api-key ${API_KEY}`;
    nock(API)
      .post('/v1/messages')
      .replyWithError(`connect failed for ${API_KEY}`)
      .post('/v1/messages')
      .reply(529, errorBody('overloaded_error', echo))
      .post('/v1/messages')
      .reply(401, errorBody('authentication_error', echo));
    const { client, sink } = setup();
    const rejected = await failure(client.create(params, { tag: 't' }));
    expect(rejected).toBeInstanceOf(ModelRequestError);
    expect(rejected.message).toContain('[redacted]');

    nock(API).post('/v1/messages').times(2).reply(529, errorBody('overloaded_error', echo));
    const { client: short } = setup({ maxAttempts: 2, log: sink.log });
    const exhausted = await failure(short.create(params, { tag: 't' }));
    expect(exhausted).toBeInstanceOf(ModelUnavailableError);

    expect(sink.lines.length).toBeGreaterThan(0);
    expectNoKey([
      rejected.message,
      String(rejected.stack),
      exhausted.message,
      String(exhausted.stack),
      JSON.stringify(rejected),
      JSON.stringify(exhausted),
      ...sink.lines,
    ]);
  });

  it('collects a streamed reply, retrying an overloaded stream', async () => {
    const sse = { 'content-type': 'text/event-stream' };
    const scope = nock(API)
      .post('/v1/messages', (b) => b.stream === true)
      .reply(200, sseReply('', { error: 'overloaded_error' }), sse)
      .post('/v1/messages', (b) => b.stream === true)
      .reply(200, sseReply('streamed'), sse);
    const { client, time, ledger } = setup();
    const message = await client.stream(params, { tag: 'optimizer' });
    expect(message.content).toEqual([{ type: 'text', text: 'streamed' }]);
    expect(time.waits).toEqual([750]);
    expect(scope.isDone()).toBe(true);
    expect(ledger.entries()[0]).toMatchObject({ tag: 'optimizer', usage: { output_tokens: 7 } });
  });

  it('warns when a model has no price and counts it as $0', async () => {
    nock(API)
      .post('/v1/messages')
      .reply(200, textReply('ok', { model: 'local-llama' }));
    const { client, sink, ledger } = setup();
    await client.create({ ...params, model: 'local-llama' }, { tag: 't' });
    expect(ledger.entries()[0]).toMatchObject({ model: 'local-llama', cost_usd: 0, priced: false });
    expect(sink.lines).toEqual([
      'warn No price known for model local-llama; its cost counts as $0 in the run total.',
    ]);
  });

  it('creates its own ledger with price overrides when none is given', async () => {
    nock(API)
      .post('/v1/messages')
      .reply(200, textReply('ok', { model: 'local-llama' }));
    const client = createModelClient({
      apiKey: API_KEY,
      prices: { 'local-llama': { input: 1, cache_write: 1, cache_read: 1, output: 1 } },
    });
    await client.create(params, { tag: 't' });
    expect(client.ledger.spentUsd).toBeCloseTo(15 / 1_000_000, 12);
  });
});

describe('parseRetryAfter', () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  it('prefers retry-after-ms, then seconds, then an HTTP date', () => {
    expect(parseRetryAfter(headers({ 'retry-after-ms': '120', 'retry-after': '9' }), 0)).toBe(120);
    expect(parseRetryAfter(headers({ 'retry-after': '1.5' }), 0)).toBe(1500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(
      30_000,
    );
  });
  it('ignores missing, zero, negative, past and garbage values', () => {
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'retry-after': '0' }), 0)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'retry-after': '-3' }), 0)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }), 0)).toBeUndefined();
    expect(
      parseRetryAfter(
        headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }),
        Date.now() + 1e12,
      ),
    ).toBeUndefined();
  });
});

describe('createModelClient on broken responses', () => {
  it('retries a truncated JSON body like a 5xx, saying so in the log', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(200, '{"id":"msg_1","type":"message","content":[{"type":"te', {
        'content-type': 'application/json',
      })
      .post('/v1/messages')
      .reply(200, textReply('whole'));
    const { client, time, sink } = setup();
    const message = await client.create(params, { tag: 'optimizer' });
    expect(message.content).toEqual([{ type: 'text', text: 'whole' }]);
    expect(time.waits).toEqual([750]);
    expect(sink.lines).toEqual([
      'warn Anthropic API sent a truncated or invalid response on attempt 1/6 (optimizer call to claude-haiku-4-5-20251001); retrying in 0.8 s.',
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('after the last attempt surfaces ModelUnavailableError carrying the parse error, never a raw SyntaxError', async () => {
    nock(API)
      .post('/v1/messages')
      .times(3)
      .reply(200, '{"id":', { 'content-type': 'application/json' });
    const { client } = setup({ maxAttempts: 3 });
    const error = await failure(client.create(params, { tag: 'analyst' }));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error.message).toBe(
      'Anthropic API sent a truncated or invalid response after 3 attempts over 2 s (analyst call to claude-haiku-4-5-20251001); try again later.',
    );
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('times out an answer whose body stalls after its headers, and retries it', async () => {
    let calls = 0;
    // The first answer sends its headers and half its body, then nothing: no SDK timeout covers it.
    const server = createServer((_req, res) => {
      calls += 1;
      const body = JSON.stringify(textReply('on time'));
      res.writeHead(200, { 'content-type': 'application/json' });
      if (calls === 1) res.write(body.slice(0, 20));
      else res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const { client, sink } = setup({ baseURL: `http://127.0.0.1:${port}`, timeoutMs: 150 });
      const message = await client.create(params, { tag: 'analyst' });
      expect(message.content).toEqual([{ type: 'text', text: 'on time' }]);
      expect(sink.lines).toEqual([
        'warn Anthropic API did not answer within 150 ms on attempt 1/6 (analyst call to claude-haiku-4-5-20251001); retrying in 0.8 s.',
      ]);
      expect(calls).toBe(2);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('retries a stream cut short before its message ended', async () => {
    const sse = { 'content-type': 'text/event-stream' };
    const whole = sseReply('streamed');
    const scope = nock(API)
      .post('/v1/messages')
      .reply(200, whole.slice(0, whole.indexOf('event: content_block_start')), sse)
      .post('/v1/messages')
      .reply(200, whole, sse);
    const { client, sink } = setup();
    const message = await client.stream(params, { tag: 'test-writer' });
    expect(message.content).toEqual([{ type: 'text', text: 'streamed' }]);
    expect(sink.lines[0]).toMatch(
      /^warn Anthropic API sent a truncated or invalid response on attempt 1\/6/,
    );
    expect(scope.isDone()).toBe(true);
  });

  it('drops a stream that goes quiet for the idle timeout and retries it', async () => {
    const server = await startScriptedServer({
      script: parseScript(
        [
          'rules:',
          '  - { when: { nth: [1] }, fault: stall }',
          '  - reply: { content: [{ type: text, text: after the stall }] }',
        ].join('\n'),
        'stall.yml',
      ),
    });
    try {
      const sink = memoryLog();
      const client = createModelClient({
        apiKey: 'scripted',
        baseURL: server.url,
        streamIdleMs: 150,
        baseDelayMs: 1,
        log: sink.log,
      });
      const message = await client.stream(params, { tag: 'test-writer' });
      expect(message.content).toEqual([{ type: 'text', text: 'after the stall' }]);
      expect(sink.lines).toHaveLength(1);
      expect(sink.lines[0]).toMatch(
        /^warn Anthropic API stream stalled \(nothing received for 150 ms\) on attempt 1\/6 \(test-writer call to claude-haiku-4-5-20251001\); retrying in 0\.0 s\.$/,
      );
      expect(server.requests).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('gives up on a stalled stream with ModelUnavailableError naming the stall', async () => {
    const server = await startScriptedServer({
      script: parseScript('rules:\n  - { fault: stall }\n', 'stall.yml'),
    });
    try {
      const client = createModelClient({
        apiKey: 'scripted',
        baseURL: server.url,
        streamIdleMs: 100,
        baseDelayMs: 1,
        maxAttempts: 2,
      });
      const error = await failure(client.stream(params, { tag: 'improve' }));
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect(error.message).toMatch(
        /^Anthropic API stream stalled \(nothing received for 100 ms\) after 2 attempts/,
      );
    } finally {
      await server.close();
    }
  });
});
