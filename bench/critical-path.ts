import type { Usage } from '../src/model/usage.js';
import type { ModelCall } from './model-calls.js';

/**
 * The model-latency critical path of a chain run, from its recorded calls.
 *
 * Calls are taken in start order and cut into segments of one kind: a chain role (named by the
 * structured-output tool it offers) or bench trials (any call offering `read_file`). A segment
 * is one step's worth of calls: a sequential step is a segment of one call (two with a repair),
 * steps 4/5 a segment of one call per probe, a bench a segment of every trial turn.
 *
 * Within a segment, calls form chains (a trial's turns, a structured call and its repair) that
 * may run side by side at most `concurrency` at a time. With every call taking the same latency
 * L, no schedule can finish a segment faster than
 *   L × max(longest chain, ⌈calls / concurrency⌉)
 * (the longest chain is the turn number of the segment's latest turn). The critical path is the
 * sum over segments, since each step starts after the previous one ends.
 */

export const TRIAL_TOOL = 'read_file';

export interface Segment {
  kind: string;
  calls: ModelCall[];
  /** Longest chain: the highest turn number in the segment. */
  chain: number;
  /** Calls of the segment on the critical path: max(chain, ⌈calls / concurrency⌉). */
  onPath: number;
  start: number;
  end: number;
}

export function kindOf(call: ModelCall): string {
  if (call.tools.includes(TRIAL_TOOL)) return 'bench trials';
  return call.tools[0] ?? '(no tool)';
}

export function segments(calls: readonly ModelCall[], concurrency: number): Segment[] {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  const out: Segment[] = [];
  for (const call of sorted) {
    const kind = kindOf(call);
    const last = out.at(-1);
    if (last !== undefined && last.kind === kind) last.calls.push(call);
    else out.push({ kind, calls: [call], chain: 0, onPath: 0, start: 0, end: 0 });
  }
  for (const s of out) {
    s.chain = Math.max(...s.calls.map((c) => c.turn));
    s.onPath = Math.max(s.chain, Math.ceil(s.calls.length / concurrency));
    s.start = Math.min(...s.calls.map((c) => c.start));
    s.end = Math.max(...s.calls.map((c) => c.end));
  }
  return out;
}

/** Model calls on the critical path of the whole run. */
export function criticalPathCalls(segs: readonly Segment[]): number {
  return segs.reduce((sum, s) => sum + s.onPath, 0);
}

export interface Tokens {
  calls: number;
  input: number;
  cacheWrite: number;
  cacheRead: number;
  output: number;
}

export function sumTokens(usages: readonly Usage[]): Tokens {
  const t: Tokens = { calls: usages.length, input: 0, cacheWrite: 0, cacheRead: 0, output: 0 };
  for (const u of usages) {
    t.input += u.input_tokens;
    t.cacheWrite += u.cache_creation_input_tokens;
    t.cacheRead += u.cache_read_input_tokens;
    t.output += u.output_tokens;
  }
  return t;
}

/** cache_read / (input + cache_write + cache_read); 0 without input. */
export function readShare(t: Tokens): number {
  const total = t.input + t.cacheWrite + t.cacheRead;
  return total === 0 ? 0 : t.cacheRead / total;
}

const usageOf = (c: ModelCall): Usage => {
  if (c.usage === null) throw new Error(`a ${kindOf(c)} call has no usage (HTTP ${c.status})`);
  return c.usage;
};

export interface ParallelCacheShare {
  /** Every call of the segments. */
  all: Tokens;
  /** Without the call of each segment that wrote the shared prefix (the first to arrive). */
  afterFirst: Tokens;
  /**
   * Reads of every call but the first `concurrency` to start in each segment, over the input of
   * every call: the real API also misses on calls sent before the first one's prefix is cached.
   */
  firstWaveColdRead: number;
}

/** Cache shares over the given segments (steps 4 and 5: parallel calls sharing a prefix). */
export function parallelCacheShare(
  segs: readonly Segment[],
  concurrency: number,
): ParallelCacheShare {
  const all: Usage[] = [];
  const later: Usage[] = [];
  let coldRead = 0;
  for (const s of segs) {
    const usages = s.calls.map(usageOf);
    all.push(...usages);
    const writer = usages.reduce(
      (best, u, i) =>
        u.cache_creation_input_tokens > (usages[best]?.cache_creation_input_tokens ?? -1)
          ? i
          : best,
      0,
    );
    later.push(...usages.filter((_, i) => i !== writer));
    coldRead += sumTokens(usages.slice(concurrency)).cacheRead;
  }
  const allTokens = sumTokens(all);
  const total = allTokens.input + allTokens.cacheWrite + allTokens.cacheRead;
  return {
    all: allTokens,
    afterFirst: sumTokens(later),
    firstWaveColdRead: total === 0 ? 0 : coldRead / total,
  };
}
