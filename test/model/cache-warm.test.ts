import type { MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import { describe, expect, it } from 'vitest';
import { CacheWarmer, cacheBreakpoints } from '../../src/model/cache-warm.js';

/** ~1,500 tokens counted low: above Sonnet's 1,024 minimum, below Haiku's 4,096. */
const SHARED = 'Follow the skill exactly and report what you changed. '.repeat(140);

const request = (
  model: string,
  task: string,
  shared = SHARED,
): MessageCreateParamsNonStreaming => ({
  model,
  max_tokens: 100,
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: shared, cache_control: { type: 'ephemeral' } },
        { type: 'text', text: task },
      ],
    },
  ],
});

function deferred() {
  let resolve: (value: string) => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('CacheWarmer', () => {
  it('holds a call sharing a cacheable prefix until the call writing it has answered', async () => {
    const warmer = new CacheWarmer();
    const first = deferred();
    const started: string[] = [];
    const a = warmer.run(request('claude-sonnet-4-6', 'probe a'), () => {
      started.push('a');
      return first.promise;
    });
    const b = warmer.run(request('claude-sonnet-4-6', 'probe b'), async () => {
      started.push('b');
      return 'b';
    });
    await settle();
    expect(started).toEqual(['a']);
    first.resolve('a');
    await expect(Promise.all([a, b])).resolves.toEqual(['a', 'b']);
    expect(started).toEqual(['a', 'b']);

    // Warm now: a later call is not held.
    const c = warmer.run(request('claude-sonnet-4-6', 'probe c'), async () => 'c');
    await expect(c).resolves.toBe('c');
  });

  it('never holds a call whose shared prefix is below the model minimum', async () => {
    const warmer = new CacheWarmer();
    const first = deferred();
    const started: string[] = [];
    void warmer.run(request('claude-haiku-4-5', 'probe a'), () => {
      started.push('a');
      return first.promise;
    });
    const b = warmer.run(request('claude-haiku-4-5', 'probe b'), async () => {
      started.push('b');
      return 'b';
    });
    await expect(b).resolves.toBe('b');
    expect(started).toEqual(['a', 'b']);
    first.resolve('a');
  });

  it('does not hold calls that share nothing, and honours a per-model minimum', async () => {
    const warmer = new CacheWarmer({ minCacheableTokens: { 'claude-sonnet-4-6': 2048 } });
    const first = deferred();
    void warmer.run(request('claude-sonnet-4-5', 'a'), () => first.promise);
    const other = warmer.run(request('claude-sonnet-4-5', 'b', `${SHARED} other`), async () => 'b');
    await expect(other).resolves.toBe('b');
    // Sonnet 4.6 raised to 2,048: the ~1,500-token prefix is not cacheable, nothing is held.
    const held = deferred();
    void warmer.run(request('claude-sonnet-4-6', 'a'), () => held.promise);
    await expect(warmer.run(request('claude-sonnet-4-6', 'b'), async () => 'b')).resolves.toBe('b');
    first.resolve('a');
    held.resolve('a');
  });

  it('releases held calls when the writer fails, one of them writing instead', async () => {
    const warmer = new CacheWarmer();
    const first = deferred();
    const a = warmer.run(request('claude-sonnet-4-6', 'a'), () => first.promise);
    const started: string[] = [];
    const second = deferred();
    const b = warmer.run(request('claude-sonnet-4-6', 'b'), () => {
      started.push('b');
      return second.promise;
    });
    const c = warmer.run(request('claude-sonnet-4-6', 'c'), async () => {
      started.push('c');
      return 'c';
    });
    first.reject(new Error('overloaded'));
    await expect(a).rejects.toThrow('overloaded');
    await settle();
    expect(started).toEqual(['b']);
    second.resolve('b');
    await expect(Promise.all([b, c])).resolves.toEqual(['b', 'c']);
  });

  it('keys breakpoints by the prefix before them, tools and system first', () => {
    const base = request('claude-sonnet-4-6', 'x');
    const withTools: MessageCreateParamsNonStreaming = {
      ...base,
      tools: [
        { name: 't', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } },
      ],
      system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
    };
    const points = cacheBreakpoints(withTools);
    expect(points).toHaveLength(3);
    expect(points[0]?.lowTokens).toBe(
      346 + Math.floor(JSON.stringify({ name: 't', input_schema: { type: 'object' } }).length / 5),
    );
    const otherTask = cacheBreakpoints({
      ...withTools,
      messages: request('claude-sonnet-4-6', 'y').messages,
    });
    expect(otherTask.map((p) => p.key)).toEqual(points.map((p) => p.key));
    const otherModel = cacheBreakpoints({ ...withTools, model: 'claude-sonnet-4-5' });
    expect(otherModel[0]?.key).not.toBe(points[0]?.key);
  });
});
