import { SkillOptimizerError } from '../errors.js';
import type { Suite } from './types.js';

/** Identifies one trial across shards and result files. `trial` counts from 1. */
export interface TrialKey {
  probe: string;
  model: string;
  trial: number;
  baseline: boolean;
}

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** A `shard` setting that is not `i/n` with 1 ≤ i ≤ n. */
export class InvalidShardError extends SkillOptimizerError {}

/** Canonical text of a trial key; equal keys give equal text. */
export function trialKeyText(key: TrialKey): string {
  return JSON.stringify([key.probe, key.model, key.trial, key.baseline]);
}

/**
 * Every trial of the suite: probe × model × trial (1..trials) with the skill, then the same
 * again without it (`baseline: true`) when asked.
 */
export function planTrials(
  suite: Pick<Suite, 'probes' | 'models' | 'trials'>,
  opts: { baseline: boolean },
) {
  const keys: TrialKey[] = [];
  for (const baseline of opts.baseline ? [false, true] : [false]) {
    for (const probe of suite.probes) {
      for (const model of suite.models) {
        for (let trial = 1; trial <= suite.trials; trial++) {
          keys.push({ probe: probe.id, model, trial, baseline });
        }
      }
    }
  }
  return keys;
}

/** 32-bit FNV-1a over the UTF-16 code units; stable across runs and platforms. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function checkShard(shard: Shard): void {
  const { index, count } = shard;
  if (
    !Number.isInteger(index) ||
    !Number.isInteger(count) ||
    count < 1 ||
    index < 1 ||
    index > count
  ) {
    throw new InvalidShardError(
      `invalid shard ${index}/${count}: expected i/n with whole numbers 1 ≤ i ≤ n, e.g. 2/4`,
    );
  }
}

/**
 * The trials of one shard. Keys are ranked by a hash of their content (ties by the key text),
 * and rank r goes to shard (r mod count) + 1: independent of input order, exactly balanced
 * (sizes differ by at most one), and the shards of one key set are disjoint and complete.
 * Every shard must be given the same key set (the same suite and settings).
 */
export function selectShard<T extends TrialKey>(keys: readonly T[], shard: Shard): T[] {
  checkShard(shard);
  const ranked = keys
    .map((key) => ({ key, text: trialKeyText(key) }))
    .map((entry) => ({ ...entry, hash: fnv1a(entry.text) }))
    .sort((a, b) => a.hash - b.hash || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const mine = new Set<T>(
    ranked.filter((_, rank) => rank % shard.count === shard.index - 1).map((e) => e.key),
  );
  // Keep the caller's order inside the shard (probe × model × trial reads best in logs).
  return keys.filter((key) => mine.has(key));
}

/** Parses `i/n` (1-based), e.g. `2/4`. */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (match === null) {
    throw new InvalidShardError(
      `invalid shard '${text}': expected i/n, e.g. 2/4 for the second of four`,
    );
  }
  const shard = { index: Number(match[1]), count: Number(match[2]) };
  checkShard(shard);
  return shard;
}

/** `2/4`: the form `parseShard` reads back. */
export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}
