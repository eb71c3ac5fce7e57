import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { prefixBlocks } from '../../../src/model/cache-rules.js';
import { DEFAULT_CACHE_TTL_MS, PromptCache } from '../../../src/model/scripted/cache.js';
import { messagesRequestSchema } from '../../../src/model/scripted/request.js';
import { clientFor, serve } from './helpers.js';

const SCRIPT = 'rules: [{ reply: { content: [{ type: text, text: ok }] } }]';
/** ~1,160 bytes: above a 100-token minimum counted low (232 tokens). */
const LONG_SYSTEM = 'You are a careful assistant. '.repeat(40);
/** The test model's minimum: low enough that LONG_SYSTEM is cacheable. */
const MINIMUMS = { 'claude-test': 100, 'other-model': 100 };

type Params = Anthropic.MessageCreateParamsNonStreaming;

const withCachedSystem = (question: string): Params => ({
  model: 'claude-test-1',
  max_tokens: 10,
  system: [{ type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: question }],
});

/** Tokens of the first `n` prefix blocks of a request, as the server counts them. */
function prefixTokens(params: Params, n: number): number {
  const blocks = prefixBlocks(messagesRequestSchema.parse(params));
  return blocks.slice(0, n).reduce((sum, b) => sum + b.tokens, 0);
}
const totalTokens = (params: Params) => prefixTokens(params, Number.POSITIVE_INFINITY);

function fakeClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('prompt caching simulation', () => {
  it('writes the marked prefix first, reads it on the second call', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now, minCacheableTokens: MINIMUMS });
    const client = clientFor(server);
    const params = withCachedSystem('first question');
    const systemTokens = prefixTokens(params, 1);
    expect(systemTokens).toBeGreaterThan(100);

    const first = await client.messages.create(params);
    expect(first.usage).toMatchObject({
      cache_creation_input_tokens: systemTokens,
      cache_read_input_tokens: 0,
      input_tokens: totalTokens(params) - systemTokens,
    });

    const second = await client.messages.create(withCachedSystem('a different question'));
    expect(second.usage).toMatchObject({
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: systemTokens,
    });
  });

  it('reports everything as input without cache marks', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now, minCacheableTokens: MINIMUMS });
    const params: Params = { ...withCachedSystem('q'), system: LONG_SYSTEM };
    for (let i = 0; i < 2; i++) {
      const { usage } = await clientFor(server).messages.create(params);
      expect(usage).toMatchObject({
        input_tokens: totalTokens(params),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
    }
  });

  it('expires after five minutes and a hit refreshes the TTL', async () => {
    const clock = fakeClock();
    const server = await serve(SCRIPT, { now: clock.now, minCacheableTokens: MINIMUMS });
    const client = clientFor(server);
    const params = withCachedSystem('q');
    const read = async () => (await client.messages.create(params)).usage.cache_read_input_tokens;

    expect(await read()).toBe(0);
    clock.advance(DEFAULT_CACHE_TTL_MS - 1000);
    expect(await read()).toBeGreaterThan(0); // hit at 4:59 refreshes
    clock.advance(DEFAULT_CACHE_TTL_MS - 1000);
    expect(await read()).toBeGreaterThan(0); // still alive at 9:58 thanks to the refresh
    clock.advance(DEFAULT_CACHE_TTL_MS + 1);
    const expired = await client.messages.create(params);
    expect(expired.usage.cache_read_input_tokens).toBe(0);
    expect(expired.usage.cache_creation_input_tokens).toBe(prefixTokens(params, 1));
  });

  it('reads the longest earlier breakpoint when the conversation grows', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now, minCacheableTokens: MINIMUMS });
    const client = clientFor(server);
    const turn1: Params = {
      ...withCachedSystem('unused'),
      tools: [{ name: 'read_file', input_schema: { type: 'object' } }],
      messages: [
        {
          role: 'user',
          content: [{ type: 'text', text: 'read a.txt', cache_control: { type: 'ephemeral' } }],
        },
      ],
    };
    const first = await client.messages.create(turn1);
    const turn1Prefix = prefixTokens(turn1, 3); // tool, system, first user block
    expect(first.usage.cache_creation_input_tokens).toBe(turn1Prefix);

    // Turn 2 moves the mark to the newest block, as agents do; the old prefix is still cached.
    const turn2: Params = {
      ...turn1,
      messages: [
        { role: 'user', content: 'read a.txt' },
        { role: 'assistant', content: 'Reading.' },
        {
          role: 'user',
          content: [{ type: 'text', text: 'contents: 42', cache_control: { type: 'ephemeral' } }],
        },
      ],
    };
    const second = await client.messages.create(turn2);
    expect(second.usage).toMatchObject({
      cache_read_input_tokens: turn1Prefix,
      cache_creation_input_tokens: totalTokens(turn2) - turn1Prefix,
      input_tokens: 0,
    });
  });

  it('does not share cache entries across models', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now, minCacheableTokens: MINIMUMS });
    const client = clientFor(server);
    await client.messages.create(withCachedSystem('q'));
    const other = await client.messages.create({ ...withCachedSystem('q'), model: 'other-model' });
    expect(other.usage.cache_read_input_tokens).toBe(0);
  });
});

/** Prose of at least `lowTokens` tokens counted low (5 bytes a token). */
const proseOf = (lowTokens: number) => LONG_SYSTEM.repeat(Math.ceil((lowTokens * 5) / 1160) + 1);

const cachedSystemFor = (model: string, system: string, question = 'q'): Params => ({
  model,
  max_tokens: 10,
  system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: question }],
});

describe('the API rules the cache simulation applies', () => {
  it('does not cache a marked prefix below the model minimum: billed as input, no write, no read', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now });
    const client = clientFor(server);
    // Haiku 4.5's minimum is 4,096 tokens; this prefix is ~4,000 counted low.
    const short = cachedSystemFor('claude-haiku-4-5', proseOf(4000).slice(0, 20_000));
    for (let i = 0; i < 2; i++) {
      const { usage } = await client.messages.create(short);
      expect(usage).toMatchObject({
        input_tokens: totalTokens(short),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
    }
    const long = cachedSystemFor('claude-haiku-4-5', proseOf(4200));
    await client.messages.create(long);
    const second = await client.messages.create(long);
    expect(second.usage.cache_read_input_tokens).toBe(prefixTokens(long, 1));
  });

  it('takes a per-model minimum from the server options (Sonnet 4.6 at 2,048)', async () => {
    const params = cachedSystemFor('claude-sonnet-4-6-20260101', proseOf(1500));
    const byDefault = clientFor(await serve(SCRIPT, { now: fakeClock().now }));
    await byDefault.messages.create(params);
    expect((await byDefault.messages.create(params)).usage.cache_read_input_tokens).toBe(
      prefixTokens(params, 1),
    );

    const overridden = clientFor(
      await serve(SCRIPT, {
        now: fakeClock().now,
        minCacheableTokens: { 'claude-sonnet-4-6': 2048 },
      }),
    );
    await overridden.messages.create(params);
    const again = await overridden.messages.create(params);
    expect(again.usage).toMatchObject({
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    });
  });

  it('answers 400 for more than 4 cache_control blocks, as the API does', async () => {
    const server = await serve(SCRIPT, { now: fakeClock().now, minCacheableTokens: MINIMUMS });
    const marked = (n: number): Params => ({
      ...withCachedSystem('q'),
      system: Array.from({ length: n }, (_, i) => ({
        type: 'text' as const,
        text: `${LONG_SYSTEM} part ${i}`,
        cache_control: { type: 'ephemeral' as const },
      })),
    });
    await expect(clientFor(server).messages.create(marked(4))).resolves.toBeDefined();
    const refused = clientFor(server).messages.create(marked(5));
    await expect(refused).rejects.toMatchObject({ status: 400 });
    await expect(refused).rejects.toThrow(
      'A maximum of 4 blocks with cache_control may be provided. Found 5.',
    );
  });

  it('keeps a 1-hour mark past five minutes, bills it as a 1-hour write, and refuses 1h after 5m', async () => {
    const clock = fakeClock();
    const server = await serve(SCRIPT, { now: clock.now, minCacheableTokens: MINIMUMS });
    const client = clientFor(server);
    const params: Params = {
      ...withCachedSystem('q'),
      system: [
        { type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
    };
    const first = await client.messages.create(params);
    expect(first.usage.cache_creation).toMatchObject({
      ephemeral_1h_input_tokens: prefixTokens(params, 1),
      ephemeral_5m_input_tokens: 0,
    });
    clock.advance(30 * 60 * 1000);
    expect((await client.messages.create(params)).usage.cache_read_input_tokens).toBe(
      prefixTokens(params, 1),
    );
    clock.advance(61 * 60 * 1000);
    expect((await client.messages.create(params)).usage.cache_read_input_tokens).toBe(0);

    const misordered: Params = {
      ...params,
      system: [
        { type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'more', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
    };
    await expect(client.messages.create(misordered)).rejects.toMatchObject({ status: 400 });
  });

  it('misses on requests that arrive while the writing request is still in flight', async () => {
    const server = await serve(SCRIPT, {
      now: fakeClock().now,
      minCacheableTokens: MINIMUMS,
      latencyMs: 300,
    });
    const client = clientFor(server);
    const params = withCachedSystem('q');
    const both = await Promise.all([
      client.messages.create(params),
      client.messages.create(withCachedSystem('another')),
    ]);
    for (const { usage } of both) {
      expect(usage.cache_read_input_tokens).toBe(0);
      expect(usage.cache_creation_input_tokens).toBe(prefixTokens(params, 1));
    }
    const after = await client.messages.create(params);
    expect(after.usage.cache_read_input_tokens).toBe(prefixTokens(params, 1));
  });

  it('counts the tool-use system prompt in the tools prefix', () => {
    const params: Params = {
      ...withCachedSystem('q'),
      tools: [{ name: 't', input_schema: { type: 'object' } }],
    };
    const withTools = prefixTokens(params, 1);
    const json = JSON.stringify({ name: 't', input_schema: { type: 'object' } });
    expect(withTools).toBe(346 + Math.ceil(json.length / 3));
    const forced = prefixTokens({ ...params, tool_choice: { type: 'tool', name: 't' } }, 1);
    expect(forced).toBe(313 + Math.ceil(json.length / 3));
  });
});

describe('PromptCache', () => {
  const req = (blocks: { text: string; mark?: boolean }[]) =>
    messagesRequestSchema.parse({
      model: 'claude-test-1',
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: blocks.map((b) => ({
            type: 'text',
            text: b.text,
            ...(b.mark ? { cache_control: { type: 'ephemeral' } } : {}),
          })),
        },
      ],
    });

  it('publishes a write only on commit: in-flight requests miss', () => {
    const cache = new PromptCache({ now: () => 0, minCacheableTokens: MINIMUMS });
    const request = req([{ text: LONG_SYSTEM, mark: true }, { text: 'q' }]);
    const first = cache.account(request);
    const inFlight = cache.account(request);
    expect(inFlight.usage.cache_read_input_tokens).toBe(0);
    expect(inFlight.usage.cache_creation_input_tokens).toBe(
      first.usage.cache_creation_input_tokens,
    );
    first.commit();
    const later = cache.account(request);
    expect(later.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
  });

  it('looks back at most 20 blocks from a breakpoint for an earlier cached prefix', () => {
    const cache = new PromptCache({ now: () => 0, minCacheableTokens: MINIMUMS });
    const head = { text: LONG_SYSTEM, mark: true };
    const tail = (n: number) => Array.from({ length: n }, (_, i) => ({ text: `turn ${i}` }));
    cache.account(req([head])).commit();
    // The breakpoint 19 blocks after the cached one: the cached position is the 20th looked at.
    const plain = { text: LONG_SYSTEM };
    const near = req([plain, ...tail(18), { text: 'end', mark: true }]);
    expect(cache.account(near).usage.cache_read_input_tokens).toBeGreaterThan(0);
    const far = req([plain, ...tail(19), { text: 'end', mark: true }]);
    expect(cache.account(far).usage.cache_read_input_tokens).toBe(0);
  });
});
