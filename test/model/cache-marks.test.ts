import type { MessageCreateParamsNonStreaming, Tool } from '@anthropic-ai/sdk/resources/messages';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CACHE_BREAKPOINTS, withCacheMarks } from '../../src/model/cache-marks.js';

const EPH = { type: 'ephemeral' } as const;
const tool = (name: string): Tool => ({
  name,
  description: `${name} tool`,
  input_schema: { type: 'object', properties: {} },
});

function countMarks(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countMarks(v), 0);
  if (typeof value !== 'object' || value === null) return 0;
  const own = 'cache_control' in value && value.cache_control != null ? 1 : 0;
  return (
    own +
    Object.entries(value)
      .filter(([k]) => k !== 'cache_control')
      .reduce((n, [, v]) => n + countMarks(v), 0)
  );
}

const base: MessageCreateParamsNonStreaming = {
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  system: 'You are the skill under test.',
  tools: [tool('read'), tool('write'), tool('bash')],
  messages: [
    { role: 'user', content: 'shared skill text' },
    { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ],
    },
  ],
};

describe('withCacheMarks', () => {
  it('marks the last tool and the system prompt, without touching the input', () => {
    const before = structuredClone(base);
    const marked = withCacheMarks(base);
    expect(base).toEqual(before);
    expect(marked.system).toEqual([
      { type: 'text', text: 'You are the skill under test.', cache_control: EPH },
    ]);
    expect(marked.tools?.map((t) => ('cache_control' in t ? t.cache_control : undefined))).toEqual([
      undefined,
      undefined,
      EPH,
    ]);
    expect(marked.messages).toBe(base.messages);
    expect(countMarks(marked)).toBe(2);
  });

  it('marks only the last of several system blocks', () => {
    const marked = withCacheMarks({
      ...base,
      system: [
        { type: 'text', text: 'role' },
        { type: 'text', text: 'skill' },
      ],
    });
    expect(marked.system).toEqual([
      { type: 'text', text: 'role' },
      { type: 'text', text: 'skill', cache_control: EPH },
    ]);
  });

  it('marks the last block of each designated shared-prefix message', () => {
    const marked = withCacheMarks(base, { sharedPrefixMessages: [0, -1] });
    expect(marked.messages[0]).toEqual({
      role: 'user',
      content: [{ type: 'text', text: 'shared skill text', cache_control: EPH }],
    });
    expect(marked.messages[1]).toBe(base.messages[1]);
    expect(marked.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b', cache_control: EPH },
      ],
    });
    expect(countMarks(marked)).toBe(4);
  });

  it('skips a trailing thinking block, which cannot carry a breakpoint', () => {
    const marked = withCacheMarks(
      {
        ...base,
        messages: [
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'answer' },
              { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            ],
          },
        ],
      },
      { sharedPrefixMessages: [0] },
    );
    expect(marked.messages[0]?.content).toEqual([
      { type: 'text', text: 'answer', cache_control: EPH },
      { type: 'thinking', thinking: 'hmm', signature: 'sig' },
    ]);
  });

  it('counts breakpoints the caller set and never exceeds four', () => {
    const premarked: MessageCreateParamsNonStreaming = {
      ...base,
      messages: [
        { role: 'user', content: [{ type: 'text', text: '1', cache_control: EPH }] },
        { role: 'assistant', content: [{ type: 'text', text: '2', cache_control: EPH }] },
        { role: 'user', content: [{ type: 'text', text: '3', cache_control: EPH }] },
        { role: 'user', content: 'four' },
      ],
    };
    const marked = withCacheMarks(premarked, { sharedPrefixMessages: [3] });
    expect(countMarks(marked)).toBe(MAX_CACHE_BREAKPOINTS);
    // The tool comes first in the prefix, so it gets the one breakpoint left.
    expect(marked.tools?.at(-1)).toMatchObject({ cache_control: EPH });
    expect(marked.system).toBe(premarked.system);
    expect(marked.messages[3]).toEqual({ role: 'user', content: 'four' });
  });

  it('leaves a request with nothing repeated unchanged', () => {
    const bare: MessageCreateParamsNonStreaming = {
      model: 'm',
      max_tokens: 1,
      messages: [{ role: 'user', content: 'x' }],
    };
    expect(withCacheMarks(bare)).toEqual(bare);
    expect(withCacheMarks({ ...bare, system: '' })).toEqual({ ...bare, system: '' });
    expect(withCacheMarks(bare, { sharedPrefixMessages: [5, -9] })).toEqual(bare);
  });

  it('is idempotent and keeps at most four breakpoints (property)', () => {
    const text = fc.string({ minLength: 1, maxLength: 5 });
    const mark = fc.option(fc.constant(EPH), { nil: undefined });
    const block = fc.record({ type: fc.constant('text' as const), text, cache_control: mark });
    const content = fc.oneof(text, fc.array(block, { minLength: 1, maxLength: 3 }));
    const message = fc.record({
      role: fc.constantFrom('user' as const, 'assistant' as const),
      content,
    });
    const params = fc.record({
      model: fc.constant('m'),
      max_tokens: fc.constant(1),
      system: fc.option(fc.oneof(text, fc.array(block, { minLength: 1, maxLength: 2 })), {
        nil: undefined,
      }),
      tools: fc.option(
        fc.array(
          fc.record({
            name: text,
            input_schema: fc.constant({ type: 'object' as const }),
            cache_control: mark,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        { nil: undefined },
      ),
      messages: fc.array(message, { minLength: 1, maxLength: 6 }),
    });
    const indexes = fc.array(fc.integer({ min: -7, max: 7 }), { maxLength: 4 });
    fc.assert(
      fc.property(params, indexes, (raw, shared) => {
        const p = JSON.parse(JSON.stringify(raw)) as MessageCreateParamsNonStreaming;
        const before = countMarks(p);
        const once = withCacheMarks(p, { sharedPrefixMessages: shared });
        const after = countMarks(once);
        expect(after).toBeGreaterThanOrEqual(before);
        expect(after).toBeLessThanOrEqual(Math.max(before, MAX_CACHE_BREAKPOINTS));
        expect(withCacheMarks(once, { sharedPrefixMessages: shared })).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });
});
