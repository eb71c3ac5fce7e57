import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { loadScript } from '../../../src/model/scripted/script.js';
import { startScriptedServer } from '../../../src/model/scripted/server.js';
import { ask, clientFor, firstText, serve } from './helpers.js';

const faultScript = (fault: string, extra = '') => `
rules:
  - name: fault
    when: { contains: fail }
    fault: ${fault}
    ${extra}
  - name: ok
    reply: { content: [{ type: text, text: fine }] }
`;

describe('faults as the SDK sees them', () => {
  it('429 is a RateLimitError with retry-after headers', async () => {
    const server = await serve(faultScript('429', 'retry_after_ms: 2500'));
    const error = await clientFor(server)
      .messages.create(ask('fail'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const apiError = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(apiError.status).toBe(429);
    expect(apiError.headers.get('retry-after')).toBe('3');
    expect(apiError.headers.get('retry-after-ms')).toBe('2500');
    expect(apiError.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(firstText(await clientFor(server).messages.create(ask('ok')))).toBe('fine');
  });

  it('529 is an overloaded_error and 500 an api_error', async () => {
    const overloaded = await serve(faultScript('529'));
    await expect(clientFor(overloaded).messages.create(ask('fail'))).rejects.toMatchObject({
      status: 529,
      error: { error: { type: 'overloaded_error' } },
    });
    const broken = await serve(faultScript('500'));
    const error = await clientFor(broken)
      .messages.create(ask('fail'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(error).toMatchObject({ status: 500, error: { error: { type: 'api_error' } } });
  });

  it('a times: 2 429 storm is retried through by the SDK', async () => {
    const script = await loadScript('test/fixtures/scripts/faults.json');
    const server = await startScriptedServer({ script });
    try {
      const message = await clientFor(server, { maxRetries: 2 }).messages.create(ask('storm'));
      expect(firstText(message)).toBe('calm again');
      expect(server.requests.map((r) => r.rule)).toEqual(['storm', 'storm', 'after-storm']);
      expect(server.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual([
        '0',
        '1',
        '2',
      ]);
    } finally {
      await server.close();
    }
  });

  it('stall: a stream starts and never ends until the client aborts', async () => {
    const server = await serve(faultScript('stall'));
    const client = clientFor(server);
    const controller = new AbortController();
    const stream = await client.messages.create(
      { ...ask('fail'), stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    for await (const event of stream) {
      seen.push(event.type);
      // A whole other call completes while the stalled stream sends nothing more.
      expect(firstText(await client.messages.create(ask('ok')))).toBe('fine');
      controller.abort();
    }
    expect(seen).toEqual(['message_start']);
    expect(controller.signal.aborted).toBe(true);
    // The server survives the disconnect.
    expect(firstText(await client.messages.create(ask('ok')))).toBe('fine');
  });

  it('stall without streaming: the client times out', async () => {
    const server = await serve(faultScript('stall'));
    const client = new Anthropic({
      baseURL: server.url,
      apiKey: 'dummy',
      maxRetries: 0,
      timeout: 200,
    });
    await expect(client.messages.create(ask('fail'))).rejects.toBeInstanceOf(
      Anthropic.APIConnectionTimeoutError,
    );
  });

  it('malformed: the SDK cannot parse the body or the stream', async () => {
    const server = await serve(faultScript('malformed'));
    const client = clientFor(server);
    await expect(client.messages.create(ask('fail'))).rejects.toThrow(/JSON/);
    const streamed = (async () => {
      const stream = await client.messages.create({ ...ask('fail'), stream: true });
      for await (const _event of stream) {
        // consume until the broken event
      }
    })();
    await expect(streamed).rejects.toThrow(/JSON/);
  });

  it('server-wide faults hit every n-th call regardless of the script', async () => {
    const server = await serve(faultScript('500'), { faults: { every: 2, fault: 529 } });
    const client = clientFor(server);
    expect(firstText(await client.messages.create(ask('ok')))).toBe('fine');
    await expect(client.messages.create(ask('ok'))).rejects.toMatchObject({ status: 529 });
    expect(firstText(await client.messages.create(ask('ok')))).toBe('fine');
    expect(server.requests.map((r) => r.rule)).toEqual(['ok', null, 'ok']);
  });

  it('a client giving up during injected latency does not hang close()', async () => {
    const server = await serve(faultScript('500'), { latencyMs: 60_000 });
    const client = new Anthropic({ baseURL: server.url, apiKey: 'd', maxRetries: 0, timeout: 100 });
    await expect(client.messages.create(ask('ok'))).rejects.toBeInstanceOf(
      Anthropic.APIConnectionTimeoutError,
    );
    await server.close();
  });
});
