import { describe, expect, it } from 'vitest';
import { CostLedger } from '../../src/model/ledger.js';
import type { Usage } from '../../src/model/usage.js';

const MTOK = 1_000_000;
const usage = (u: Partial<Usage>): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  ...u,
});
const fixedNow = () => new Date('2026-03-01T12:00:00Z');

describe('CostLedger', () => {
  it('records each call with its cost and time, and totals overall, by tag and by model', () => {
    const ledger = new CostLedger({ now: fixedNow });
    const entry = ledger.record({
      tag: 'trial',
      model: 'claude-haiku-4-5-20251001',
      usage: usage({ input_tokens: MTOK, cache_read_input_tokens: MTOK }),
    });
    expect(entry).toEqual({
      tag: 'trial',
      model: 'claude-haiku-4-5-20251001',
      usage: usage({ input_tokens: MTOK, cache_read_input_tokens: MTOK }),
      cost_usd: 1.1,
      priced: true,
      at: '2026-03-01T12:00:00.000Z',
    });
    ledger.record({
      tag: 'trial',
      model: 'claude-sonnet-4-6',
      usage: usage({ output_tokens: MTOK }),
    });
    ledger.record({
      tag: 'optimizer',
      model: 'claude-opus-4-5',
      usage: usage({ input_tokens: MTOK }),
    });

    const summary = ledger.summary();
    expect(summary.total.calls).toBe(3);
    expect(summary.total.cost_usd).toBeCloseTo(1.1 + 15 + 5, 10);
    expect(summary.total.usage).toEqual(
      usage({ input_tokens: 2 * MTOK, output_tokens: MTOK, cache_read_input_tokens: MTOK }),
    );
    expect(summary.by_tag.trial?.calls).toBe(2);
    expect(summary.by_tag.trial?.cost_usd).toBeCloseTo(16.1, 10);
    expect(summary.by_tag.optimizer).toEqual({
      calls: 1,
      cost_usd: 5,
      usage: usage({ input_tokens: MTOK }),
    });
    expect(Object.keys(summary.by_model).sort()).toEqual([
      'claude-haiku-4-5-20251001',
      'claude-opus-4-5',
      'claude-sonnet-4-6',
    ]);
    expect(summary.unpriced_models).toEqual([]);
    expect(ledger.spentUsd).toBeCloseTo(21.1, 10);
  });

  it('flags an unpriced model once and counts it as $0', () => {
    const unpriced: string[] = [];
    const ledger = new CostLedger({ onUnpricedModel: (m) => unpriced.push(m) });
    ledger.record({ tag: 'trial', model: 'local-model', usage: usage({ input_tokens: MTOK }) });
    ledger.record({ tag: 'trial', model: 'local-model', usage: usage({ input_tokens: MTOK }) });
    expect(unpriced).toEqual(['local-model']);
    expect(ledger.spentUsd).toBe(0);
    expect(ledger.summary().unpriced_models).toEqual(['local-model']);
    expect(ledger.entries().every((e) => e.priced === false)).toBe(true);
  });

  it('uses price overrides and caller-reported costs', () => {
    const ledger = new CostLedger({
      prices: { 'local-model': { input: 2, cache_write: 0, cache_read: 0, output: 0 } },
    });
    ledger.record({ tag: 'trial', model: 'local-model', usage: usage({ input_tokens: MTOK }) });
    ledger.record({ tag: 'trial', model: 'whatever', usage: usage({}), cost_usd: 0.25 });
    expect(ledger.spentUsd).toBeCloseTo(2.25, 10);
    expect(ledger.summary().unpriced_models).toEqual([]);
  });
});
