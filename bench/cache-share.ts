import { join } from 'node:path';
import { createSandbox, type Sandbox } from '../src/bench/sandbox/index.js';
import { loadSuite } from '../src/bench/suite.js';
import { minCacheableTokens } from '../src/model/cache-rules.js';
import { loadScript } from '../src/model/scripted/script.js';
import type { Usage } from '../src/model/usage.js';
import { assertAllRan } from './check-records.js';
import { type Benchmark, type ResultRow, row } from './report.js';
import { runScriptedBench, type TrialSpan } from './scripted-bench.js';

const NAME = 'cache';
const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'keep-a-changelog', 'tests');
/** Per call, so that concurrent trials are really in flight together (in-flight misses). */
const LATENCY_MS = 20;

interface Tokens {
  input: number;
  creation: number;
  read: number;
}

export interface ModelShare {
  model: string;
  /** Read share over this model's trials after its first one (in start order). */
  afterFirst: number;
  /** Read share over all of this model's trials. */
  all: number;
  trials: number;
  /** Input tokens of the trials after the first: uncached, written, read. */
  tokens: Tokens;
}

function sum(usages: Usage[]): Tokens {
  const out = { input: 0, creation: 0, read: 0 };
  for (const u of usages) {
    out.input += u.input_tokens;
    out.creation += u.cache_creation_input_tokens;
    out.read += u.cache_read_input_tokens;
  }
  return out;
}

const share = (t: Tokens) => {
  const total = t.input + t.creation + t.read;
  return total === 0 ? 0 : t.read / total;
};

/**
 * Cache read share per model (the prompt cache is per model), `read / (input + creation + read)`,
 * over the trials given in start order: after each model's first trial, and over all of them.
 */
export function cacheShareByModel(spans: TrialSpan[]): ModelShare[] {
  const models = [...new Set(spans.map((s) => s.model))];
  return models.map((model) => {
    const own = spans.filter((s) => s.model === model);
    const later = sum(own.slice(1).map((s) => s.usage));
    return {
      model,
      afterFirst: share(later),
      all: share(sum(own.map((s) => s.usage))),
      trials: own.length,
      tokens: later,
    };
  });
}

async function measure(
  concurrency: number,
  sandbox: Sandbox,
  warmCache = true,
): Promise<ModelShare[]> {
  const suite = await loadSuite(join(EXAMPLE, 'suite.yml'), { concurrency });
  const run = await runScriptedBench({
    suite,
    script: await loadScript(join(EXAMPLE, 'script.yml')),
    sandbox,
    latencyMs: LATENCY_MS,
    placement: 'in-process',
    warmCache,
  });
  assertAllRan(run.result.records, suite.probes.length * suite.models.length * suite.trials);
  return cacheShareByModel(run.spans);
}

/**
 * Target: at least 80% of bench input tokens read from the prompt cache after each model's first
 * trial, for every model of the example suite (Sonnet 4.6 and Haiku 4.5 defaults), at C=1 and
 * C=4. The scripted server applies the API's caching rules (model/cache-rules.ts): per-model
 * minimum prefix, counted low; in-flight misses; 20-block lookback. Trials send the tools and the
 * skill first with a breakpoint after them, and the conversation so far with one at its end; at
 * C>1 the runner holds a trial's call while another trial is writing a prefix they share.
 * The ideal is 100% less the part of each trial no other trial sends (its own turns).
 */
export const cacheBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const sandbox = await createSandbox('auto', { secretInReach: false });
    const rows: ResultRow[] = [];
    for (const concurrency of [1, 4]) {
      const shares = await measure(concurrency, sandbox);
      for (const s of shares) {
        const t = s.tokens;
        log(
          `  C=${concurrency} ${s.model} (minimum cacheable prefix ${minCacheableTokens(s.model)} tokens), ` +
            `${s.trials} trials; after the first: ${t.read} read, ${t.creation} written, ${t.input} uncached input tokens`,
        );
        if (t.read + t.creation === 0) {
          log(
            `    no request of ${s.model} reached its minimum cacheable prefix: the skill, tools and ` +
              'turns of these trials are too short to cache on this model, so every token is input',
          );
        }
        const target = { op: '>=' as const, value: 0.8 };
        rows.push(
          row(
            NAME,
            `read share after first trial, ${s.model}, C=${concurrency}`,
            s.afterFirst,
            '%',
            target,
          ),
          row(NAME, `read share all trials, ${s.model}, C=${concurrency}`, s.all, '%'),
        );
      }
    }
    for (const s of await measure(4, sandbox, false)) {
      rows.push(
        row(
          NAME,
          `read share after first trial, ${s.model}, C=4 without warm-up`,
          s.afterFirst,
          '%',
        ),
      );
    }
    return rows;
  },
};
