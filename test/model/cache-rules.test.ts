import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MIN_CACHEABLE_TOKENS,
  minCacheableTokens,
  tokensAtLeast,
  tokensAtMost,
  UNKNOWN_MODEL_MIN_CACHEABLE_TOKENS,
  warmUpDecision,
} from '../../src/model/cache-rules.js';

/**
 * Samples of each kind of text a request carries, with the characters-per-token band published
 * for Claude's tokenizer (about 3.5 on average; ~3.5–4.5 on English prose; 3–3.5 on code;
 * 2.5–3.5 on JSON). No tokenizer is available offline, so the estimates are held to those bands.
 */
const SAMPLES = {
  prose: {
    text:
      'A changelog is a file which contains a curated, chronologically ordered list of notable ' +
      'changes for each version of a project. It makes it easier for users and contributors to ' +
      'see precisely what notable changes have been made between each release of the project. ' +
      'Guiding principles: changelogs are for humans, not machines; there should be an entry for ' +
      'every single version; the same types of changes should be grouped.',
    band: { low: 3.5, high: 4.5 },
  },
  code: {
    text: [
      'export function applyEdit(text: string, edit: { old: string; next: string }): string {',
      '  const at = text.indexOf(edit.old);',
      "  if (at < 0) throw new Error('text not found: ' + edit.old.slice(0, 40));",
      '  return text.slice(0, at) + edit.next + text.slice(at + edit.old.length);',
      '}',
    ].join('\n'),
    band: { low: 3, high: 3.5 },
  },
  json: {
    text: JSON.stringify({
      name: 'edit_file',
      description: 'Replace one exact occurrence of text in a file of the project.',
      input_schema: {
        type: 'object',
        properties: { path: { type: 'string' }, old_text: { type: 'string', minLength: 1 } },
        required: ['path', 'old_text'],
        additionalProperties: false,
      },
    }),
    band: { low: 2.5, high: 3.5 },
  },
} as const;

describe('token estimates', () => {
  for (const [kind, { text, band }] of Object.entries(SAMPLES)) {
    it(`counts ${kind} low at or under the fewest tokens its published ratio allows`, () => {
      const fewest = Math.floor(text.length / band.high);
      expect(tokensAtLeast(text)).toBeLessThanOrEqual(fewest);
      // ...and not uselessly low: within half of that.
      expect(tokensAtLeast(text)).toBeGreaterThanOrEqual(fewest / 2);
    });
  }

  it('counts prose and code high at or over the most tokens their ratio allows', () => {
    for (const { text, band } of [SAMPLES.prose, SAMPLES.code]) {
      expect(tokensAtMost(text)).toBeGreaterThanOrEqual(Math.ceil(text.length / band.low));
    }
  });

  it('under-counts dense JSON by at most a fifth when counting high', () => {
    const { text, band } = SAMPLES.json;
    expect(tokensAtMost(text)).toBeGreaterThanOrEqual(0.8 * (text.length / band.low));
  });

  it('counts UTF-8 bytes, so non-Latin text is not under-counted by its character count', () => {
    const cjk = '缓存的前缀必须足够长'.repeat(10); // 100 characters, 300 bytes
    expect(tokensAtMost(cjk)).toBe(100);
    expect(tokensAtLeast(cjk)).toBe(60);
  });
});

describe('minCacheableTokens', () => {
  it('knows the documented minimums, by family and by dated id', () => {
    expect(minCacheableTokens('claude-sonnet-4-5-20250929')).toBe(1024);
    expect(minCacheableTokens('claude-sonnet-4-6')).toBe(1024);
    expect(minCacheableTokens('claude-haiku-4-5-20251001')).toBe(4096);
    expect(minCacheableTokens('claude-opus-4-5-20251101')).toBe(4096);
    expect(minCacheableTokens('claude-opus-4-6')).toBe(4096);
    expect(minCacheableTokens('claude-opus-4-1')).toBe(1024);
    expect(minCacheableTokens('us.anthropic.claude-haiku-4-5-20251001-v1:0')).toBe(4096);
  });

  it('gives an unknown model the largest minimum', () => {
    expect(minCacheableTokens('gpt-9')).toBe(UNKNOWN_MODEL_MIN_CACHEABLE_TOKENS);
    expect(UNKNOWN_MODEL_MIN_CACHEABLE_TOKENS).toBe(
      Math.max(...Object.values(DEFAULT_MIN_CACHEABLE_TOKENS)),
    );
  });

  it('lays overrides over the defaults and refuses a malformed one', () => {
    expect(minCacheableTokens('claude-sonnet-4-6', { 'claude-sonnet-4-6': 2048 })).toBe(2048);
    expect(minCacheableTokens('claude-sonnet-4-5', { 'claude-sonnet-4-6': 2048 })).toBe(1024);
    expect(() => minCacheableTokens('claude-sonnet-4-6', { 'claude-sonnet-4-6': -1 })).toThrow(
      'minimum cacheable tokens for claude-sonnet-4-6 must be a non-negative integer, got -1',
    );
  });
});

describe('warmUpDecision', () => {
  it('warms when siblings would otherwise all miss and write the same prefix', () => {
    const d = warmUpDecision({ parallel: 4, sharedTokens: 2000, minTokens: 1024 });
    expect(d.warm).toBe(true);
    expect(d.coldCost).toBe(4 * 1.25 * 2000);
    expect(d.warmCost).toBeCloseTo((1.25 + 3 * 0.1) * 2000);
  });

  it('does not warm a prefix below the minimum, nor a single call', () => {
    expect(warmUpDecision({ parallel: 8, sharedTokens: 1100, minTokens: 4096 })).toMatchObject({
      warm: false,
      coldCost: 8 * 1100,
      warmCost: 8 * 1100,
    });
    expect(warmUpDecision({ parallel: 1, sharedTokens: 5000, minTokens: 1024 }).warm).toBe(false);
  });

  it('weighs a 1-hour write at twice the input price', () => {
    const d = warmUpDecision({ parallel: 2, sharedTokens: 1000, minTokens: 0, ttl: '1h' });
    expect(d.coldCost).toBe(4000);
    expect(d.warmCost).toBeCloseTo(2100);
  });

  it('refuses a fan-out that is not a positive integer', () => {
    expect(() => warmUpDecision({ parallel: 0, sharedTokens: 1, minTokens: 0 })).toThrow(
      'parallel must be a positive integer, got 0',
    );
  });
});
