import { describe, expect, it } from 'vitest';
import { BudgetExceededError } from '../../src/errors.js';
import { type BudgetWarning, CostLedger } from '../../src/model/ledger.js';
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
    expect(summary.budget_usd).toBeUndefined();
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

  it('warns once at 50% of the budget and stops at 100%', () => {
    const warnings: BudgetWarning[] = [];
    const ledger = new CostLedger({ budgetUsd: 10, onWarn: (w) => warnings.push(w) });
    const spend = (usd: number) =>
      ledger.record({ tag: 'trial', model: 'm', usage: usage({}), cost_usd: usd });

    spend(4.99);
    expect(warnings).toEqual([]);
    ledger.assertWithinBudget('the next trial');
    spend(0.01);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.budgetUsd).toBe(10);
    expect(warnings[0]?.spentUsd).toBeCloseTo(5, 10);
    spend(4.9);
    expect(warnings).toHaveLength(1);
    expect(ledger.isOverBudget()).toBe(false);
    expect(ledger.remainingUsd).toBeCloseTo(0.1, 10);
    ledger.assertWithinBudget('the next trial');

    spend(0.2);
    expect(ledger.isOverBudget()).toBe(true);
    expect(() => ledger.assertWithinBudget('step 6 (bench)')).toThrow(BudgetExceededError);
    expect(() => ledger.assertWithinBudget('step 6 (bench)')).toThrow(
      'Run budget spent: $10.10 of budget_usd $10.00 used; stopped before step 6 (bench). Raise budget_usd in the config to continue.',
    );
    expect(warnings).toHaveLength(1);
  });

  it('never stops a run without a budget', () => {
    const ledger = new CostLedger();
    ledger.record({ tag: 't', model: 'm', usage: usage({}), cost_usd: 1e6 });
    expect(ledger.isOverBudget()).toBe(false);
    expect(() => ledger.assertWithinBudget()).not.toThrow();
    expect(ledger.remainingUsd).toBeUndefined();
  });

  it('resumes from earlier entries without warning again', () => {
    const first = new CostLedger({ budgetUsd: 4 });
    first.record({ tag: 'trial', model: 'm', usage: usage({}), cost_usd: 3 });
    const warnings: BudgetWarning[] = [];
    const resumed = new CostLedger({
      budgetUsd: 4,
      entries: first.entries(),
      onWarn: (w) => warnings.push(w),
    });
    expect(resumed.spentUsd).toBe(3);
    resumed.record({ tag: 'trial', model: 'm', usage: usage({}), cost_usd: 0.5 });
    expect(warnings).toEqual([]);
    resumed.record({ tag: 'trial', model: 'm', usage: usage({}), cost_usd: 0.5 });
    expect(() => resumed.assertWithinBudget()).toThrow(BudgetExceededError);
  });

  it('rejects a budget that is not positive', () => {
    expect(() => new CostLedger({ budgetUsd: 0 })).toThrow(RangeError);
    expect(() => new CostLedger({ budgetUsd: Number.NaN })).toThrow(RangeError);
  });
});
