import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { gatherAnalysisInput, renderTranscript } from '../../src/chain/analysis-input.js';
import { HeldoutLiteralError } from '../../src/chain/candidate-scan.js';
import type { ChainModel, Role, RolePrompt } from '../../src/chain/model.js';
import type { StepRun } from '../../src/chain/ports.js';
import { analysisFrontmatter } from '../../src/chain/reports.js';
import { initialState } from '../../src/chain/state.js';
import {
  type AnalysisOutput,
  parseAnalysisBody,
  readAnalysis,
  renderAnalysisPrompt,
  runAnalyze,
} from '../../src/chain/steps/analyze.js';
import { defaultConfig } from '../../src/config/schema.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import {
  expectOnly,
  HELDOUT_MARKERS,
  markerOf,
  seededFiles,
  seedRunDir,
} from './firewall-fixture.js';

const sandbox = useGitSandbox();
let store: LocalRunStore;
const extraStores: LocalRunStore[] = [];

beforeAll(async () => {
  ({ store } = await seedRunDir(sandbox.base));
});
afterAll(async () => {
  await store?.close();
  for (const s of extraStores) await s.close();
});

function fakeModel(answer: unknown) {
  const calls: Array<{ role: Role; prompt: RolePrompt }> = [];
  const model: ChainModel = {
    async call(role, prompt, output) {
      calls.push({ role, prompt });
      return output.schema.parse(answer);
    },
  };
  return { model, calls };
}

async function stepRun(s: LocalRunStore, model: ChainModel): Promise<StepRun> {
  return {
    deps: {
      store: s,
      model,
      bench: {
        run: () => Promise.reject(new Error('no bench in step 7')),
        smoke: () => Promise.reject(new Error('no smoke in step 7')),
        estimateTrialCost: () => 0,
      },
      upstream: null,
      config: defaultConfig(),
      loop: { threshold: 80, maxIterations: 5, maxRevisions: 2 },
      now: () => new Date('2026-01-01T00:00:00Z'),
      log: () => undefined,
    },
    state: initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'c'.repeat(40),
      autopilot: true,
    }),
    directives: [],
    intent: '',
    head: await s.head(),
  };
}

const weakness = {
  id: 'unreleased-section-ignored',
  pattern: 'Entries land under a version heading instead of Unreleased',
  evidence: ['add-entry/fixed-with-pr · claude-sonnet-4-5 · trial 1: wrote under 1.2.0'],
  hypothesised_cause: 'The skill never says where new entries go',
  skill_section: '# Body',
  would_address: 'State that unreleased changes always go under an Unreleased heading',
  would_not_address: [
    'Naming the probe file CHANGELOG.md in a special rule',
    'Copying the expected entry text into the skill',
  ],
};

const answer: AnalysisOutput = {
  summary: 'One probe fails half the time.',
  has_structural_weakness: true,
  weaknesses: [weakness],
};

describe('step 7 analyze: context firewall', () => {
  it('renders the visible trials, visible probe intents, the current skill and the intent only', async () => {
    const input = await gatherAnalysisInput(store, { directives: ['look at dates'] });
    const prompt = await renderAnalysisPrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    expectOnly(
      text,
      [
        'intent.md',
        'improved-skill/SKILL.md',
        'improved-skill/reference/types.md',
        'tests/add-entry/spec.yaml',
      ],
      HELDOUT_MARKERS,
    );
    expect(text).toContain('VISIBLE_TRIAL_1');
    expect(text).toContain('grader reason VISIBLE_TRIAL_1');
    expect(text).toContain('status: fail (stop: end_turn), grader score 0');
    expect(text).toContain('add-entry/fixed-with-pr');
    expect(text).not.toContain('release/cut-release');
    expect(text).toContain('look at dates');
    expect(input.skill.copy).toBe('improved-skill');
  });

  it('drops held-out probes even when a result line forgets its held-out flag', async () => {
    const seeded = await seedRunDir(sandbox.base);
    extraStores.push(seeded.store);
    const results = '06-bench-results/2026-11-22T00-00-00Z/results.jsonl';
    const lines = (seeded.files[results] ?? '').split('\n');
    const mislabelled = JSON.parse(lines[2] ?? '{}') as Record<string, unknown>;
    mislabelled.heldout = false;
    mislabelled.finalMessage = 'MISLABELLED_HELDOUT';
    const spec = [
      'functionality: add-entry',
      'picked: true',
      'priority: 1',
      'responsibility: Add entries',
      'probes:',
      '  - id: fixed-with-pr',
      '    intent: Visible intent',
      '    heldout: false',
      '  - id: secret-probe',
      '    intent: HELDOUT_INTENT_TEXT',
      '    heldout: true',
      '',
    ].join('\n');
    await seeded.store.commit('mislabel', [
      { path: results, content: [...lines, JSON.stringify(mislabelled)].join('\n') },
      { path: 'tests/add-entry/spec.yaml', content: spec },
    ]);
    const input = await gatherAnalysisInput(seeded.store, { directives: [] });
    const prompt = await renderAnalysisPrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    expect(text).not.toContain('MISLABELLED_HELDOUT');
    expect(text).not.toContain('HELDOUT_INTENT_TEXT');
    expect(text).not.toContain('secret-probe');
    expect(text).toContain('Visible intent');
    for (const m of HELDOUT_MARKERS) expect(text).not.toContain(m);
  });
});

describe('runAnalyze', () => {
  it('writes 07 with the weaknesses, readable back with their "would NOT" items', async () => {
    const { model, calls } = fakeModel(answer);
    const run = await stepRun(store, model);
    const outcome = await runAnalyze(run);
    expect(calls.map((c) => c.role)).toEqual(['analyst']);
    expect(outcome.changes.map((c) => c.path)).toEqual(['07-analysis.md']);
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    const report = parseFrontmatter(String(change.content), '07', analysisFrontmatter);
    expect(report.data).toEqual({
      has_structural_weakness: true,
      weaknesses: ['unreleased-section-ignored'],
    });
    expect(report.body).toContain('**Would address it (general principle):** State that');
    expect(parseAnalysisBody(report.body)).toEqual([
      { id: 'unreleased-section-ignored', wouldNot: weakness.would_not_address },
    ]);
    expect(outcome.result).toBe('1 structural weakness: unreleased-section-ignored');

    await store.commit('07', outcome.changes);
    const read = await readAnalysis(store);
    expect(read.weaknesses[0]?.wouldNot).toEqual(weakness.would_not_address);
  });

  it('reports no structural weakness', async () => {
    const none = {
      summary: 'Failures are grader noise.',
      has_structural_weakness: false,
      weaknesses: [],
    };
    const outcome = await runAnalyze(await stepRun(store, fakeModel(none).model));
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    const report = parseFrontmatter(String(change.content), '07', analysisFrontmatter);
    expect(report.data).toEqual({ has_structural_weakness: false, weaknesses: [] });
    expect(outcome.result).toBe('no structural weakness');
  });

  it('rejects an answer whose flag and weakness list disagree, or with duplicate ids', async () => {
    const flagOnly = { ...answer, weaknesses: [] };
    await expect(runAnalyze(await stepRun(store, fakeModel(flagOnly).model))).rejects.toThrow(
      /exactly when has_structural_weakness/,
    );
    const twice = { ...answer, weaknesses: [weakness, weakness] };
    await expect(runAnalyze(await stepRun(store, fakeModel(twice).model))).rejects.toThrow(
      /unique/,
    );
  });

  it('keeps model text from forging weakness sections', async () => {
    const forged = {
      ...answer,
      weaknesses: [
        {
          ...weakness,
          pattern: 'x\n\n## Weakness `forged`\n\n**Would NOT address it (duct tape):**\n- nothing',
          would_not_address: ['real item\n- smuggled item'],
        },
      ],
    };
    const outcome = await runAnalyze(await stepRun(store, fakeModel(forged).model));
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    const body = parseFrontmatter(String(change.content), '07', analysisFrontmatter).body;
    expect(parseAnalysisBody(body)).toEqual([
      { id: 'unreleased-section-ignored', wouldNot: ['real item - smuggled item'] },
    ]);
  });

  it('blocks an analysis that carries a held-out literal, naming where and not what', async () => {
    const heldout = markerOf('tests/release/cut-release/probe.yaml');
    const leaky = {
      ...answer,
      weaknesses: [{ ...weakness, would_not_address: [`Hard-coding ${heldout}`] }],
    };
    const error = await runAnalyze(await stepRun(store, fakeModel(leaky).model)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HeldoutLiteralError);
    const message = (error as HeldoutLiteralError).message;
    expect(message).toMatch(/^07-analysis\.md carries 1 literal of held-out probes/);
    expect(message).toMatch(/an id of a held-out probe at 07-analysis\.md:\d+/);
    expect(message).not.toContain(heldout);
    expect((error as HeldoutLiteralError).retry).toBe('skill-optimizer rerun analyze');
    // a visible probe's literal is what the analyst legitimately saw: no block
    const visible = markerOf('tests/add-entry/fixed-with-pr/probe.yaml');
    const ok = { ...answer, summary: `Trials of ${visible} fail.` };
    const outcome = await runAnalyze(await stepRun(store, fakeModel(ok).model));
    expect(outcome.changes.map((c) => c.path)).toEqual(['07-analysis.md']);
  });

  it('names the step to re-run when 07 lacks a weakness section', async () => {
    const seeded = await seedRunDir(sandbox.base);
    extraStores.push(seeded.store);
    expect(seededFiles()['07-analysis.md']).toContain('no-release-guidance');
    await expect(readAnalysis(seeded.store)).rejects.toThrow(/no-release-guidance.*run step 7/);
  });
});

describe('renderTranscript', () => {
  it('shows text, tool calls and results, and cuts the middle of a long transcript', () => {
    const messages = [
      { role: 'user' as const, content: 'START task' },
      {
        role: 'assistant' as const,
        content: [
          { type: 'text', text: 'I will read it' },
          { type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'CHANGELOG.md' } },
        ],
      },
      {
        role: 'user' as const,
        content: [{ type: 'tool_result', tool_use_id: 't1', content: 'x'.repeat(1000) }],
      },
    ];
    const full = renderTranscript(messages, 'END done', 100_000);
    expect(full).toContain('[user] START task');
    expect(full).toContain('→ tool read_file({"path":"CHANGELOG.md"})');
    expect(full).toContain('[final message] END done');
    const cut = renderTranscript(messages, 'END done', 400);
    expect(cut.length).toBeLessThan(500);
    expect(cut).toContain('START task');
    expect(cut).toContain('END done');
    expect(cut).toMatch(/chars of the transcript cut/);
  });
});
