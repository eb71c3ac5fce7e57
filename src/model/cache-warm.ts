import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import {
  FIVE_MINUTES_MS,
  type MinCacheableOverrides,
  minCacheableTokens,
  prefixBlocks,
  warmUpDecision,
} from './cache-rules.js';
import type { ModelClient } from './client.js';

/**
 * Warms the prompt cache before a fan-out. Calls that share a marked prefix and start together
 * all miss (an entry being written is not readable by requests already in flight) and each pays
 * the 1.25x write. A `CacheWarmer` lets the first call with a prefix go, holds the calls that
 * arrive while it is in flight and share one of its cacheable breakpoints, and releases them when
 * it has answered, so they read what it wrote. Whether holding pays is `warmUpDecision`: never for
 * a prefix below the model's minimum (it is not cached at all). Calls that share nothing with a
 * call in flight, or whose prefixes are already warm, are never held.
 */

export interface CacheWarmerOptions {
  /** Per-model minimum cacheable prefix, laid over the API's defaults. */
  minCacheableTokens?: MinCacheableOverrides;
  now?: () => number;
}

interface Breakpoint {
  key: string;
  /** The prefix up to this breakpoint, counted low. */
  lowTokens: number;
}

/** The request's breakpoints in prefix order (tools → system → messages), keyed by prefix hash. */
export function cacheBreakpoints(params: MessageCreateParamsBase): Breakpoint[] {
  const out: Breakpoint[] = [];
  let low = 0;
  for (const block of prefixBlocks(params)) {
    low += block.lowTokens;
    if (block.ttlMs !== null) out.push({ key: block.key, lowTokens: low });
  }
  return out;
}

export class CacheWarmer {
  /** Prefix key → the answer of the call writing it. */
  readonly #writing = new Map<string, Promise<unknown>>();
  /** Prefix key → when a call last wrote or read it. */
  readonly #warm = new Map<string, number>();
  readonly #minimums: MinCacheableOverrides;
  readonly #now: () => number;

  constructor(options: CacheWarmerOptions = {}) {
    this.#minimums = options.minCacheableTokens ?? {};
    this.#now = options.now ?? Date.now;
    minCacheableTokens('', this.#minimums);
  }

  /** Runs `call` for `params`, first waiting for an in-flight call writing a prefix it shares. */
  async run<T>(params: MessageCreateParamsBase, call: () => Promise<T>): Promise<T> {
    const minTokens = minCacheableTokens(params.model, this.#minimums);
    const cacheable = cacheBreakpoints(params).filter(
      (b) => warmUpDecision({ parallel: 2, sharedTokens: b.lowTokens, minTokens }).warm,
    );
    for (;;) {
      const now = this.#now();
      for (const [key, at] of this.#warm) if (now - at >= FIVE_MINUTES_MS) this.#warm.delete(key);
      const pending = cacheable
        .filter((b) => !this.#warm.has(b.key) && this.#writing.has(b.key))
        .at(-1);
      if (pending === undefined) break;
      // The writer's failure is its own caller's to report; this call then writes instead.
      await this.#writing.get(pending.key)?.then(
        () => undefined,
        () => undefined,
      );
    }
    const now = this.#now();
    const mine = cacheable.filter((b) => {
      if (this.#warm.has(b.key)) {
        this.#warm.set(b.key, now);
        return false;
      }
      return true;
    });
    const answer = call();
    for (const b of mine) this.#writing.set(b.key, answer);
    try {
      const value = await answer;
      for (const b of mine) this.#warm.set(b.key, this.#now());
      return value;
    } finally {
      for (const b of mine) if (this.#writing.get(b.key) === answer) this.#writing.delete(b.key);
    }
  }
}

/** `client` with every call going through `warmer` (one warmer per fan-out scope). */
export function withCacheWarming(client: ModelClient, warmer = new CacheWarmer()): ModelClient {
  return {
    create: (params, meta) => warmer.run(params, () => client.create(params, meta)),
    stream: (params, meta) => warmer.run(params, () => client.stream(params, meta)),
    get ledger() {
      return client.ledger;
    },
  };
}
