import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_TTL_MS, prefixBlocks } from '../../../src/model/scripted/cache.js';
import { messagesRequestSchema } from '../../../src/model/scripted/request.js';
import { clientFor, serve } from './helpers.js';

const SCRIPT = 'rules: [{ reply: { content: [{ type: text, text: ok }] } }]';
const LONG_SYSTEM = 'You are a careful assistant. '.repeat(40);

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
    const server = await serve(SCRIPT, { now: fakeClock().now });
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
    const server = await serve(SCRIPT, { now: fakeClock().now });
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
    const server = await serve(SCRIPT, { now: clock.now });
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
    const server = await serve(SCRIPT, { now: fakeClock().now });
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
    const server = await serve(SCRIPT, { now: fakeClock().now });
    const client = clientFor(server);
    await client.messages.create(withCachedSystem('q'));
    const other = await client.messages.create({ ...withCachedSystem('q'), model: 'other-model' });
    expect(other.usage.cache_read_input_tokens).toBe(0);
  });
});
