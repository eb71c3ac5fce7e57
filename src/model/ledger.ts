import { type PriceOverrides, priceUsage } from './pricing.js';
import { addUsage, type Usage, zeroUsage } from './usage.js';

/** One model call (or one agent trial) as it was paid for. */
export interface LedgerEntry {
  /** Who spent it: a role or purpose such as `trial`, `executor`, `optimizer`. */
  tag: string;
  model: string;
  usage: Usage;
  cost_usd: number;
  /** False when the model had no price: `cost_usd` is then 0 and the totals understate. */
  priced: boolean;
  /** ISO timestamp. */
  at: string;
}

export interface LedgerTotal {
  calls: number;
  usage: Usage;
  cost_usd: number;
}

export interface LedgerSummary {
  total: LedgerTotal;
  by_tag: Record<string, LedgerTotal>;
  by_model: Record<string, LedgerTotal>;
  /** Models that had no price; their cost counts as 0. */
  unpriced_models: string[];
}

export interface CostLedgerOptions {
  /** Price overrides from the config. */
  prices?: PriceOverrides;
  /** Called once per model that has no price. */
  onUnpricedModel?: (model: string) => void;
  /** Entries already spent by this run before a resume. */
  entries?: readonly LedgerEntry[];
  now?: () => Date;
}

export interface RecordInput {
  tag: string;
  model: string;
  usage: Usage;
  /** A cost reported by the caller (e.g. an agent SDK's own total); otherwise priced here. */
  cost_usd?: number;
}

const emptyTotal = (): LedgerTotal => ({ calls: 0, usage: zeroUsage(), cost_usd: 0 });

function addTo(total: LedgerTotal, entry: LedgerEntry): LedgerTotal {
  return {
    calls: total.calls + 1,
    usage: addUsage(total.usage, entry.usage),
    cost_usd: total.cost_usd + entry.cost_usd,
  };
}

/**
 * Every token and dollar spent, by tag and model. The run's budget is enforced where money is
 * spent (the chain's trial reservations and subagent calls), not here.
 */
export class CostLedger {
  readonly #entries: LedgerEntry[] = [];
  readonly #options: CostLedgerOptions;
  readonly #unpriced = new Set<string>();
  #spent = 0;

  constructor(options: CostLedgerOptions = {}) {
    this.#options = options;
    for (const entry of options.entries ?? []) this.#add(entry);
  }

  /** Records one call and returns its entry. */
  record(input: RecordInput): LedgerEntry {
    const priced =
      input.cost_usd === undefined
        ? priceUsage(input.model, input.usage, this.#options.prices)
        : { cost_usd: input.cost_usd, priced: true };
    const entry: LedgerEntry = {
      tag: input.tag,
      model: input.model,
      usage: { ...input.usage },
      cost_usd: priced.cost_usd,
      priced: priced.priced,
      at: (this.#options.now?.() ?? new Date()).toISOString(),
    };
    this.#add(entry);
    return entry;
  }

  get spentUsd(): number {
    return this.#spent;
  }

  entries(): readonly LedgerEntry[] {
    return this.#entries;
  }

  summary(): LedgerSummary {
    let total = emptyTotal();
    const byTag: Record<string, LedgerTotal> = {};
    const byModel: Record<string, LedgerTotal> = {};
    for (const entry of this.#entries) {
      total = addTo(total, entry);
      byTag[entry.tag] = addTo(byTag[entry.tag] ?? emptyTotal(), entry);
      byModel[entry.model] = addTo(byModel[entry.model] ?? emptyTotal(), entry);
    }
    return {
      total,
      by_tag: byTag,
      by_model: byModel,
      unpriced_models: [...this.#unpriced].sort(),
    };
  }

  #add(entry: LedgerEntry): void {
    this.#entries.push(entry);
    this.#spent += entry.cost_usd;
    if (!entry.priced && !this.#unpriced.has(entry.model)) {
      this.#unpriced.add(entry.model);
      this.#options.onUnpricedModel?.(entry.model);
    }
  }
}
