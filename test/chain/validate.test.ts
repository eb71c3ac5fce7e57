import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { HeldoutLiteralError } from '../../src/chain/candidate-scan.js';
import { DiffDoesNotApplyError } from '../../src/chain/diff.js';
import type { ChainModel, Role, RolePrompt } from '../../src/chain/model.js';
import type { StepRun } from '../../src/chain/ports.js';
import { verdictFrontmatter } from '../../src/chain/reports.js';
import { type ChainState, initialState } from '../../src/chain/state.js';
import {
  findingsToDirectives,
  gatherValidateInput,
  renderValidatePrompt,
  runValidate,
  type ValidateOutput,
  verdictSummary,
} from '../../src/chain/steps/validate.js';
import { defaultConfig } from '../../src/config/schema.js';
import type { LocalRunStore } from '../../src/store/local.js';
import type { FileChange } from '../../src/store/port.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, markerOf, seedRunDir } from './firewall-fixture.js';

const sandbox = useGitSandbox();
const stores: LocalRunStore[] = [];

afterAll(async () => {
  for (const s of stores) await s.close();
});

async function freshStore(): Promise<LocalRunStore> {
  const { store } = await seedRunDir(sandbox.base);
  stores.push(store);
  return store;
}

/** A diff that adds one line after the body line of a skill copy's SKILL.md. */
const diffAfter = (bodyLine: string) =>
  [
    '--- a/SKILL.md',
    '+++ b/SKILL.md',
    '@@ -6,3 +6,4 @@',
    ' # Body',
    ' ',
    ` ${bodyLine}`,
    '+DIFF_VISIBLE_LINE: move Unreleased entries under the new version when releasing.',
    '',
  ].join('\n');
const improvedDiff = diffAfter(`Improved body ${markerOf('improved-skill/SKILL.md')}`);
const vendoredDiff = diffAfter(`Vendored body ${markerOf('vendored-skill/SKILL.md')}`);

const proposal = (diff: string) =>
  [
    '---',
    'addresses_weaknesses: [no-release-guidance]',
    '---',
    '',
    `# Improvement proposal\n\n## Rationale\n\nRATIONALE_SECRET ${markerOf('08-improvement-proposal.md')}`,
    '',
    '## Diff',
    '',
    '```diff',
    diff.trimEnd(),
    '```',
    '',
  ].join('\n');

function fakeModel(out: unknown) {
  const calls: Array<{ role: Role; prompt: RolePrompt }> = [];
  const model: ChainModel = {
    async call(role, prompt, output) {
      calls.push({ role, prompt });
      return output.schema.parse(out);
    },
  };
  return { model, calls };
}

function state(upstream: boolean | null = false): ChainState {
  return {
    ...initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'c'.repeat(40),
      autopilot: true,
    }),
    upstream,
    revisions: 1,
    weaknesses_addressed: ['earlier-one'],
    directives: { improve: ['old directive'], analyze: ['keep me'] },
  };
}

async function stepRun(store: LocalRunStore, model: ChainModel): Promise<StepRun> {
  return {
    deps: {
      store,
      model,
      bench: {
        run: () => Promise.reject(new Error('no bench in step 9')),
        smoke: () => Promise.reject(new Error('no smoke in step 9')),
        estimateTrialCost: () => 0,
      },
      upstream: null,
      config: defaultConfig(),
      loop: { threshold: 80, maxIterations: 5, maxRevisions: 2 },
      now: () => new Date('2026-01-01T00:00:00Z'),
      log: () => undefined,
    },
    state: state(),
    directives: [],
    intent: '',
    head: await store.head(),
  };
}

const approve: ValidateOutput = {
  verdict: 'approve',
  findings: [{ severity: 'minor', finding: 'Wording could be tighter.' }],
  summary: 'A general release rule that fits the skill.',
};

const written = (changes: FileChange[]) =>
  Object.fromEntries(changes.map((c) => [c.path, 'delete' in c ? 'DELETED' : c.content])) as Record<
    string,
    string | Buffer
  >;

describe('step 9 validate: context firewall', () => {
  let store: LocalRunStore;
  beforeAll(async () => {
    store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
  });

  it('renders the skill before and after, the diff, 01 and the intent; never the rationale', async () => {
    const common = [
      '01-functionality.md',
      'intent.md',
      'improved-skill/SKILL.md',
      'improved-skill/reference/types.md',
    ];
    for (const upstream of [false, true]) {
      const input = await gatherValidateInput(store, { state: state(upstream), directives: [] });
      const prompt = await renderValidatePrompt(input);
      const text = `${prompt.shared}\n${prompt.task}`;
      expectOnly(text, upstream ? [...common, '02-submissions.md'] : common, HELDOUT_MARKERS);
      expect(text).not.toContain('RATIONALE_SECRET');
      expect(text).not.toContain('VISIBLE_TRIAL');
      // Once in the diff, once in the AFTER skill.
      expect(text.split('DIFF_VISIBLE_LINE').length - 1).toBe(2);
    }
  });
});

describe('runValidate', () => {
  it('approve: applies the diff to improved-skill/ and resets the revision loop', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const { model, calls } = fakeModel(approve);
    const outcome = await runValidate(await stepRun(store, model));
    expect(calls.map((c) => c.role)).toEqual(['validator']);
    expect(outcome.changes.map((c) => c.path)).toEqual([
      '09-validator-verdict.md',
      'improved-skill/SKILL.md',
    ]);
    const files = written(outcome.changes);
    expect(String(files['improved-skill/SKILL.md'])).toMatch(/Improved body .*\nDIFF_VISIBLE_LINE/);
    const report = parseFrontmatter(
      String(files['09-validator-verdict.md']),
      '09',
      verdictFrontmatter,
    );
    expect(report.data).toEqual({
      verdict: 'approve',
      duct_tape_findings: [],
      heldout_findings: [],
    });
    expect(report.body).toContain('- **minor** — Wording could be tighter.');
    expect(report.body).toContain('applied to `improved-skill/`');
    expect(outcome.result).toBe('approve (1 minor): A general release rule that fits the skill.');

    const next = outcome.update?.(state());
    expect(next?.revisions).toBe(0);
    // Addressed only once a bench keeps the candidate: until then they are pending.
    expect(next?.weaknesses_addressed).toEqual(['earlier-one']);
    expect(next?.weaknesses_pending).toEqual(['no-release-guidance']);
    expect(next?.directives).toEqual({ analyze: ['keep me'] });

    await store.commit('09', outcome.changes);
    expect(await verdictSummary(store)).toBe(
      'approve (1 minor): A general release rule that fits the skill.',
    );
  });

  it('approve: creates improved-skill/ from vendored-skill/, binary files and stale leftovers included', async () => {
    const store = await freshStore();
    const logo = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]);
    await store.commit('no improved copy yet', [
      { path: 'improved-skill', delete: true },
      { path: 'improved-skill/stale.md', content: 'left over\n' },
      { path: 'vendored-skill/assets/logo.png', content: logo },
      { path: '08-improvement-proposal.md', content: proposal(vendoredDiff) },
    ]);
    const outcome = await runValidate(await stepRun(store, fakeModel(approve).model));
    expect(outcome.changes.map((c) => c.path)).toEqual([
      '09-validator-verdict.md',
      'improved-skill',
      'improved-skill/assets/logo.png',
      'improved-skill/SKILL.md',
      'improved-skill/reference/types.md',
    ]);
    await store.commit('09', outcome.changes);
    expect(await store.list('improved-skill')).toEqual([
      'improved-skill/SKILL.md',
      'improved-skill/assets/logo.png',
      'improved-skill/reference/types.md',
    ]);
    expect(await store.readBytes('improved-skill/assets/logo.png')).toEqual(logo);
    expect(await store.read('improved-skill/SKILL.md')).toContain(
      `Vendored body ${markerOf('vendored-skill/SKILL.md')}\nDIFF_VISIBLE_LINE`,
    );
    expect(await store.read('improved-skill/reference/types.md')).toBe(
      await store.read('vendored-skill/reference/types.md'),
    );
    expect(await store.read('vendored-skill/SKILL.md')).not.toContain('DIFF_VISIBLE_LINE');
  });

  it('needs-revision: writes only 09 and hands the findings to the optimizer as directives', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const out: ValidateOutput = {
      verdict: 'needs-revision',
      findings: [
        { severity: 'minor', finding: 'Say "version heading", not "header".' },
        { severity: 'major', finding: 'The new rule repeats\nthe section above; merge them.' },
      ],
      summary: 'Right idea, repeated guidance.',
    };
    const outcome = await runValidate(await stepRun(store, fakeModel(out).model));
    expect(outcome.changes.map((c) => c.path)).toEqual(['09-validator-verdict.md']);
    const next = outcome.update?.(state());
    expect(next?.revisions).toBe(2);
    expect(next?.weaknesses_addressed).toEqual(['earlier-one']);
    expect(next?.directives).toEqual({
      analyze: ['keep me'],
      improve: [
        'Validator (major): The new rule repeats the section above; merge them.',
        'Validator (minor): Say "version heading", not "header".',
      ],
    });
    expect(outcome.result).toBe(
      'needs-revision (1 major, 1 minor): Right idea, repeated guidance.',
    );
  });

  it('reject: writes only 09 and leaves the state alone', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const out: ValidateOutput = {
      verdict: 'reject',
      findings: [{ severity: 'blocker', finding: 'Chases one probe.' }],
      summary: 'Probe-chasing.',
    };
    const outcome = await runValidate(await stepRun(store, fakeModel(out).model));
    expect(outcome.changes.map((c) => c.path)).toEqual(['09-validator-verdict.md']);
    expect(outcome.update).toBeUndefined();
  });

  it('fails before asking the model when the diff does not apply to the current skill', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(vendoredDiff) },
    ]);
    const { model, calls } = fakeModel(approve);
    await expect(runValidate(await stepRun(store, model))).rejects.toThrow(DiffDoesNotApplyError);
    expect(calls).toHaveLength(0);
  });

  it('fails clearly when 08 holds no diff, and on a verdict that contradicts its findings', async () => {
    const store = await freshStore();
    const noDiff = '---\naddresses_weaknesses: [x]\n---\n\nJust words.\n';
    await store.commit('08', [{ path: '08-improvement-proposal.md', content: noDiff }]);
    await expect(runValidate(await stepRun(store, fakeModel(approve).model))).rejects.toThrow(
      /holds no ```diff block; run step 8 again/,
    );
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const blocked = { ...approve, findings: [{ severity: 'blocker', finding: 'Breaks scope.' }] };
    await expect(runValidate(await stepRun(store, fakeModel(blocked).model))).rejects.toThrow(
      /cannot be approved/,
    );
    const silent = { verdict: 'reject', findings: [], summary: 'No.' };
    await expect(runValidate(await stepRun(store, fakeModel(silent).model))).rejects.toThrow(
      /needs at least one finding/,
    );
  });
});

describe('runValidate: probe literals found by the tool', () => {
  const VISIBLE = markerOf('tests/add-entry/fixed-with-pr/probe.yaml');
  const HELDOUT = markerOf('tests/release/cut-release/probe.yaml');
  const withLine = (line: string) =>
    improvedDiff
      .replace('+DIFF_VISIBLE_LINE', `+${line}\n+DIFF_VISIBLE_LINE`)
      .replace('@@ -6,3 +6,4 @@', '@@ -6,3 +6,5 @@');

  it('shows the validator the visible-probe literals on the added lines and records them in 09', async () => {
    const store = await freshStore();
    await store.commit('08', [
      {
        path: '08-improvement-proposal.md',
        content: proposal(withLine(`For the crash fix, write ${VISIBLE} exactly.`)),
      },
    ]);
    const out: ValidateOutput = {
      verdict: 'needs-revision',
      findings: [{ severity: 'blocker', finding: 'Copies a test string into the skill.' }],
      summary: 'Duct tape.',
    };
    const { model, calls } = fakeModel(out);
    const outcome = await runValidate(await stepRun(store, model));
    const prompt = `${calls[0]?.prompt.shared}\n${calls[0]?.prompt.task}`;
    const listed = `- \`${VISIBLE}\` (id) from visible probe add-entry/fixed-with-pr, added at SKILL.md:9`;
    expect(prompt).toContain(listed);
    expect(prompt).toMatch(/duct-tape-findings/);
    for (const m of HELDOUT_MARKERS) expect(prompt).not.toContain(m);
    expect(prompt).not.toContain(HELDOUT);
    const report = parseFrontmatter(
      String(written(outcome.changes)['09-validator-verdict.md']),
      '09',
      verdictFrontmatter,
    );
    expect(report.data).toEqual({
      verdict: 'needs-revision',
      duct_tape_findings: [
        `\`${VISIBLE}\` (id) from visible probe add-entry/fixed-with-pr, at SKILL.md:9`,
      ],
      heldout_findings: [],
    });
  });

  it('says no literal was found when the added lines are general', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const input = await gatherValidateInput(store, { state: state(), directives: [] });
    expect(input.ductTape).toEqual([]);
    const prompt = await renderValidatePrompt(input);
    expect(`${prompt.shared}\n${prompt.task}`).toMatch(
      /## Strings from the test probes on the added lines \(found by the tool\)\n.+\n\(none found\)\n/,
    );
  });

  it('rejects a proposal carrying a held-out literal without asking the validator, never repeating it', async () => {
    const store = await freshStore();
    await store.commit('08', [
      {
        path: '08-improvement-proposal.md',
        content: proposal(improvedDiff).replace('RATIONALE_SECRET', `Chases ${HELDOUT}`),
      },
    ]);
    const { model, calls } = fakeModel(approve);
    const outcome = await runValidate(await stepRun(store, model));
    expect(calls).toHaveLength(0);
    expect(outcome.changes.map((c) => c.path)).toEqual(['09-validator-verdict.md']);
    const text = String(written(outcome.changes)['09-validator-verdict.md']);
    expect(text).not.toContain(HELDOUT);
    const report = parseFrontmatter(text, '09', verdictFrontmatter);
    expect(report.data.verdict).toBe('reject');
    expect(report.data.heldout_findings).toEqual([
      'an id of a held-out probe at 08-improvement-proposal.md:9',
    ]);
    expect(report.body).toContain(
      '- **blocker** — The proposal carries 1 literal of held-out probes',
    );
    expect(outcome.update).toBeUndefined();
  });

  it('fails closed when the verdict itself carries a held-out literal', async () => {
    const store = await freshStore();
    await store.commit('08', [
      { path: '08-improvement-proposal.md', content: proposal(improvedDiff) },
    ]);
    const leaky = { ...approve, summary: `Good, but see ${HELDOUT}.` };
    await expect(runValidate(await stepRun(store, fakeModel(leaky).model))).rejects.toThrow(
      HeldoutLiteralError,
    );
    await expect(runValidate(await stepRun(store, fakeModel(leaky).model))).rejects.toThrow(
      /09-validator-verdict.md carries 1 literal of held-out probes/,
    );
  });
});

describe('findingsToDirectives', () => {
  it('puts blockers first, one line each, cut to a short length', () => {
    const directives = findingsToDirectives([
      { severity: 'minor', finding: 'nit' },
      { severity: 'blocker', finding: 'x'.repeat(400) },
    ]);
    expect(directives[0]).toMatch(/^Validator \(blocker\): x+…$/);
    expect(directives[0]?.length).toBeLessThanOrEqual(322);
    expect(directives[1]).toBe('Validator (minor): nit');
  });
});
