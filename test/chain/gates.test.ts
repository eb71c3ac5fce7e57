import { describe, expect, it } from 'vitest';
import {
  GateAnswerError,
  gateEffect,
  gateSpecs,
  HARDER_DIRECTIVE,
  openGate,
} from '../../src/chain/gates.js';
import { converged, keptRates } from '../../src/chain/next.js';
import type { ChainDeps } from '../../src/chain/ports.js';
import {
  type BenchPoint,
  benchPointSchema,
  type ChainState,
  initialState,
} from '../../src/chain/state.js';

/** What each gate answer does to the run (the store-backed gates are covered through the CLI). */

const NOW = new Date('2026-01-02T03:04:05Z');
/** These gates never touch the ports; a deps object that throws on any use proves it. */
const NO_DEPS = new Proxy({} as ChainDeps, {
  get(_target, key) {
    throw new Error(`gate touched deps.${String(key)}`);
  },
});
const state = (): ChainState =>
  initialState({
    slug: 's',
    skillPath: 'skills/s',
    sourceCommit: 'c'.repeat(40),
    autopilot: false,
  });

describe('gate answers', () => {
  it('refuses an answer that is not an option, naming the options', async () => {
    const cases = [
      [gateSpecs.wrapper('../x'), 'revendor, keep, cancel'],
      [gateSpecs.upstreamIntent(true, false), 'yes, no'],
      [gateSpecs.allPass(), 'accept, harder'],
      [gateSpecs.verdict('reject', 'no.'), 'stop'],
    ] as const;
    for (const [spec, options] of cases) {
      const gate = openGate(spec, 'functionality', NOW);
      const answer = gateEffect(NO_DEPS, state(), gate, 'perhaps');
      await expect(answer).rejects.toBeInstanceOf(GateAnswerError);
      await expect(answer).rejects.toThrow(
        `'perhaps' is not an answer to the ${spec.id} gate; choose one of: ${options}`,
      );
    }
  });

  it('wrapper: re-vendor by default, keep records the choice, cancel stops', async () => {
    const gate = openGate(gateSpecs.wrapper('../x'), 'functionality', NOW);
    expect(gate.default).toBe('revendor');
    const revendor = await gateEffect(NO_DEPS, state(), gate, 'revendor');
    expect(revendor.revendor).toBe(true);
    expect(revendor.update(state()).wrapper).toBe('revendor');
    const keep = await gateEffect(NO_DEPS, state(), gate, 'keep');
    expect(keep.revendor).toBeUndefined();
    expect(keep.update(state()).wrapper).toBe('keep');
    expect((await gateEffect(NO_DEPS, state(), gate, 'cancel')).finish).toEqual({
      status: 'stopped',
      reason: 'cancelled at the wrapper gate',
    });
  });

  it('upstream intent: the default follows the config, then what step 1 read', () => {
    expect(gateSpecs.upstreamIntent(false, true).default).toBe('yes');
    expect(gateSpecs.upstreamIntent(true, false).default).toBe('yes');
    expect(gateSpecs.upstreamIntent(false, false).default).toBe('no');
  });

  it('all-pass: harder queues a directive for design-tests, accept finishes', async () => {
    const gate = openGate(gateSpecs.allPass(), 'bench', NOW);
    expect(gate.default).toBe('accept');
    const harder = await gateEffect(NO_DEPS, state(), gate, 'harder');
    expect(harder.finish).toBeUndefined();
    const before = { ...state(), directives: { 'design-tests': ['Earlier.'] } };
    expect(harder.update(before).directives['design-tests']).toEqual([
      'Earlier.',
      HARDER_DIRECTIVE,
    ]);
    expect((await gateEffect(NO_DEPS, state(), gate, 'accept')).finish).toEqual({
      status: 'done',
      reason: 'every probe passes; accepted at the gate',
    });
  });

  it('verdict: stop is the only answer; a directive goes through rerun', async () => {
    const gate = openGate(
      gateSpecs.verdict('reject', 'the proposal was rejected.'),
      'validate',
      NOW,
    );
    expect(gate.question).toContain('skill-optimizer rerun improve --directive');
    expect((await gateEffect(NO_DEPS, state(), gate, 'stop')).finish?.status).toBe('stopped');
  });
});

const point = (iteration: number, rate: number, accepted: boolean | null): BenchPoint =>
  benchPointSchema.parse({
    iteration,
    skill: iteration === 0 ? 'vendored-skill' : 'improved-skill',
    pass_rate: rate,
    heldout_pass_rate: null,
    min_probe_pass_rate: null,
    baseline_pass_rate: null,
    accepted,
    results_dir: `06-bench-results/${iteration}`,
    verdict: accepted === null ? null : accepted ? 'improved' : 'rejected',
    kept: accepted !== false,
  });
const withBenches = (...benches: BenchPoint[]): ChainState => ({ ...state(), benches });

describe('convergence', () => {
  it('counts the rate of the skill kept: a rejected improvement keeps the previous rate', () => {
    expect(keptRates([point(0, 50, null), point(1, 100, false), point(2, 90, false)])).toEqual([
      50, 50, 50,
    ]);
    expect(keptRates([point(0, 50, null), point(1, 70, true), point(2, 40, false)])).toEqual([
      50, 70, 70,
    ]);
  });

  it('converges on at most 2 points of gain over the last 3 benches of the kept skill', () => {
    expect(converged(withBenches(point(0, 50, null), point(1, 51, true)))).toBe(false);
    expect(converged(withBenches(point(0, 50, null), point(1, 51, true), point(2, 52, true)))).toBe(
      true,
    );
    expect(converged(withBenches(point(0, 50, null), point(1, 53, true), point(2, 50, true)))).toBe(
      false,
    );
    // Rejected improvements measured 100%, but the skill kept is still at 50%.
    expect(
      converged(withBenches(point(0, 50, null), point(1, 100, false), point(2, 100, false))),
    ).toBe(true);
  });
});
