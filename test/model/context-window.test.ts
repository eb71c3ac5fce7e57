import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contextBudget,
  contextWindowOf,
  estimateRequestTokens,
  estimateTokens,
} from '../../src/model/context-window.js';

describe('estimateTokens', () => {
  it('counts a token per 3 bytes of UTF-8, rounded up', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('a'.repeat(300))).toBe(100);
    expect(estimateTokens('abcd')).toBe(2);
    // CJK: 3 bytes a character → one token each; an emoji (4 bytes) → two.
    expect(estimateTokens('変更履歴')).toBe(4);
    expect(estimateTokens('🚀')).toBe(2);
  });

  it('over-counts English prose against the ~3.5–4 characters a token Claude averages', () => {
    const prose =
      'Keep a changelog: add each change under Unreleased, in the section for its type, with the pull request number.';
    expect(estimateTokens(prose)).toBeGreaterThanOrEqual(Math.ceil(prose.length / 3.5));
    // The scripted server's usage estimate (a quarter of the characters) is never larger.
    expect(estimateTokens(prose)).toBeGreaterThan(Math.ceil(prose.length / 4));
  });

  it('is never below a token per 3.5 characters, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(estimateTokens(text)).toBeGreaterThanOrEqual(Math.floor(text.length / 3.5));
      }),
    );
  });
});

describe('contextWindowOf / contextBudget', () => {
  it('gives Claude models and unknown ids a 200k window, through provider prefixes', () => {
    expect(contextWindowOf('claude-opus-4-6')).toBe(200_000);
    expect(contextWindowOf('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe(200_000);
    expect(contextWindowOf('some-gateway-model')).toBe(200_000);
  });

  it('is the configured share of the window, rounded down', () => {
    expect(contextBudget('claude-opus-4-6', 0.5)).toBe(100_000);
    expect(contextBudget('claude-opus-4-6', 0.333)).toBe(66_600);
  });
});

describe('estimateRequestTokens', () => {
  it('counts system, tools and messages as sent', () => {
    const text = 'x'.repeat(3_000);
    const alone = estimateRequestTokens({ messages: [{ role: 'user', content: text }] });
    expect(alone).toBeGreaterThan(1_000);
    expect(
      estimateRequestTokens({ system: text, messages: [{ role: 'user', content: text }] }),
    ).toBeGreaterThan(alone + 999);
  });
});
