import { BudgetExceededError } from '../errors.js';
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
  budget_usd?: number;
}

export interface BudgetWarning {
  spentUsd: number;
  budgetUsd: number;
}

export interface CostLedgerOptions {
  /** `budget_usd` from the config: soft warning at 50%, hard stop at 100%. */
  budgetUsd?: number;
  /** Price overrides from the config. */
  prices?: PriceOverrides;
  /** Called once, when the spend first reaches half the budget. */
  onWarn?: (warning: BudgetWarning) => void;
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

const WARN_FRACTION = 0.5;

const emptyTotal = (): LedgerTotal => ({ calls: 0, usage: zeroUsage(), cost_usd: 0 });

function addTo(total: LedgerTotal, entry: LedgerEntry): LedgerTotal {
  return {
    calls: total.calls + 1,
    usage: addUsage(total.usage, entry.usage),
    cost_usd: total.cost_usd + entry.cost_usd,
  };
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/** Every token and dollar a run spends, with its budget. */
export class CostLedger {
  readonly budgetUsd: number | undefined;
  readonly #entries: LedgerEntry[] = [];
  readonly #options: CostLedgerOptions;
  readonly #unpriced = new Set<string>();
  #spent = 0;
  #warned = false;

  constructor(options: CostLedgerOptions = {}) {
    if (options.budgetUsd !== undefined && !(options.budgetUsd > 0)) {
      throw new RangeError(`budgetUsd must be a positive number, got ${options.budgetUsd}`);
    }
    this.budgetUsd = options.budgetUsd;
    this.#options = options;
    for (const entry of options.entries ?? []) this.#add(entry);
    // A resumed run that was already past half its budget has been warned before.
    this.#warned = this.#overWarnLine();
  }

  /** Records one call and returns its entry; fires the 50% warning when this call crosses it. */
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
    if (!this.#warned && this.#overWarnLine() && this.budgetUsd !== undefined) {
      this.#warned = true;
      this.#options.onWarn?.({ spentUsd: this.#spent, budgetUsd: this.budgetUsd });
    }
    return entry;
  }

  get spentUsd(): number {
    return this.#spent;
  }

  /** What is left of the budget (negative once over); undefined without a budget. */
  get remainingUsd(): number | undefined {
    return this.budgetUsd === undefined ? undefined : this.budgetUsd - this.#spent;
  }

  isOverBudget(): boolean {
    return this.budgetUsd !== undefined && this.#spent >= this.budgetUsd;
  }

  /**
   * Throws `BudgetExceededError` once the budget is spent. Call at step boundaries and before each
   * trial; `where` names the point in the run for the message.
   */
  assertWithinBudget(where?: string): void {
    if (!this.isOverBudget() || this.budgetUsd === undefined) return;
    const at = where ? ` before ${where}` : '';
    throw new BudgetExceededError(
      `Run budget spent: ${usd(this.#spent)} of budget_usd ${usd(this.budgetUsd)} used; ` +
        `stopped${at}. Raise budget_usd in the config to continue.`,
    );
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
      ...(this.budgetUsd === undefined ? {} : { budget_usd: this.budgetUsd }),
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

  #overWarnLine(): boolean {
    return this.budgetUsd !== undefined && this.#spent >= this.budgetUsd * WARN_FRACTION;
  }
}
