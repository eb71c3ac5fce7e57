import type { SmokeReport } from '../../src/bench/grader.js';
import type { ChainModel, Role, RolePrompt } from '../../src/chain/model.js';
import type { BenchPort, StepRun } from '../../src/chain/ports.js';
import { type ChainState, initialState } from '../../src/chain/state.js';
import { resolveLoopSettings } from '../../src/config/loop.js';
import { type ConfigInput, configSchema } from '../../src/config/schema.js';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { makeRepo } from '../store/git-fixture.js';

/** Shared by the tests of steps 3–5: a fake ChainModel, a fake bench, a StepRun and a store. */

export interface RecordedCall {
  role: Role;
  prompt: RolePrompt;
  text: string;
}

/**
 * A ChainModel answering from per-role functions (validated against the role's schema, as the
 * real structured call does). With `holdFor`, each call is held until that many calls have
 * started (or 250 ms passed), so every call a dispatcher lets into flight is there at once: the
 * recorded maximum then shows both that dispatch is parallel and that it stays bounded.
 */
export function fakeModel(
  answers: Partial<Record<Role, (prompt: RolePrompt, text: string) => unknown>>,
  opts: { holdFor?: number } = {},
) {
  const calls: RecordedCall[] = [];
  const stats = { inFlight: 0, maxInFlight: 0, started: 0 };
  const waiters: Array<() => void> = [];
  const releaseAll = () => {
    for (const w of waiters.splice(0)) w();
  };
  const model: ChainModel = {
    async call(role, prompt, output) {
      const text = `${prompt.shared}\n${prompt.task}`;
      calls.push({ role, prompt, text });
      stats.started += 1;
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        if (opts.holdFor !== undefined) {
          if (stats.started >= opts.holdFor) releaseAll();
          else {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 250);
              waiters.push(() => {
                clearTimeout(timer);
                resolve();
              });
            });
          }
        }
        const answer = answers[role];
        if (answer === undefined) throw new Error(`fake model: no answer for role ${role}`);
        return output.schema.parse(answer(prompt, text));
      } finally {
        stats.inFlight -= 1;
      }
    },
  };
  return { model, calls, stats };
}

/** A bench whose smoke check answers from a table (default: ok) and records each request. */
export function fakeBench(results: Record<string, SmokeReport> = {}) {
  const smokes: Array<Parameters<BenchPort['smoke']>[0]> = [];
  const bench: BenchPort = {
    async run() {
      throw new Error('fake bench: run is not part of these steps');
    },
    async smoke(probe) {
      smokes.push(probe);
      return results[probe.id] ?? { ok: true, reasons: [] };
    },
    estimateTrialCost: () => 0,
  };
  return { bench, smokes };
}

export function testState(over: Partial<ChainState> = {}): ChainState {
  return {
    ...initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'c'.repeat(40),
      autopilot: false,
    }),
    ...over,
  };
}

export async function makeRun(
  store: LocalRunStore,
  parts: {
    model: ChainModel;
    bench?: BenchPort;
    directives?: string[];
    config?: ConfigInput;
    state?: ChainState;
    intent?: string;
  },
): Promise<StepRun> {
  const config = configSchema.parse(parts.config ?? {});
  return {
    deps: {
      store,
      model: parts.model,
      bench: parts.bench ?? fakeBench().bench,
      upstream: null,
      config,
      loop: resolveLoopSettings(config),
      now: () => new Date('2026-11-22T00:00:00Z'),
      log: () => {},
    },
    state: parts.state ?? testState(),
    directives: parts.directives ?? [],
    intent: parts.intent ?? (await store.read('intent.md')) ?? '',
    head: await store.head(),
  };
}

export const FUNCTIONALITY_REPORT = [
  '---',
  'skill_name: keep-a-changelog',
  'skill_source: skills/keep-a-changelog @ abc',
  'classification: document',
  'pr_submission_intent: false',
  'likely_wrapper: false',
  'wrapper_points_to: null',
  '---',
  '',
  '# Functionality',
  '',
  '- **add-entry** — Add entries under Unreleased. FUNCTIONALITY_BODY',
  '',
].join('\n');

/** A run dir with a skill, 01 and intent, plus `files`, committed on a fresh work branch. */
export async function seedStore(
  base: string,
  files: Record<string, string> = {},
): Promise<LocalRunStore> {
  const repo = await makeRepo(base);
  const store = await openLocalRun({ repoDir: repo, slug: 'keep-a-changelog' });
  const all: Record<string, string> = {
    'intent.md': 'Make releases reliable. INTENT_TEXT\n',
    'vendored-skill/SKILL.md':
      '---\nname: keep-a-changelog\ndescription: Keep a changelog.\n---\n\nSKILL_BODY: use Keep a Changelog.\n',
    '01-functionality.md': FUNCTIONALITY_REPORT,
    ...files,
  };
  await store.commit(
    'seed',
    Object.entries(all).map(([path, content]) => ({ path, content })),
  );
  return store;
}

/** A spec.yaml text. */
export function specYaml(spec: {
  functionality: string;
  picked: boolean;
  priority: number;
  probes: Array<{ id: string; heldout?: boolean }>;
  comment?: string;
}): string {
  return [
    ...(spec.comment === undefined ? [] : [`# ${spec.comment}`]),
    `functionality: ${spec.functionality}`,
    `picked: ${spec.picked}`,
    `priority: ${spec.priority}`,
    `responsibility: Responsibility of ${spec.functionality}.`,
    'probes:',
    ...spec.probes.flatMap((p) => [
      `  - id: ${p.id}`,
      `    intent: Intent of ${spec.functionality}/${p.id}.`,
      `    heldout: ${p.heldout ?? false}`,
    ]),
    '',
  ].join('\n');
}
