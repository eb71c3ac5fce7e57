import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { fixHeldoutShare } from '../../src/chain/heldout-share.js';
import { applyPicks, readSpecs } from '../../src/chain/picks.js';
import { proposalsFrontmatter, type SpecFile } from '../../src/chain/reports.js';
import {
  type DesignOutput,
  gatherDesignTestsInput,
  renderDesignTestsPrompt,
  runDesignTests,
} from '../../src/chain/steps/design-tests.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, seedRunDir } from './firewall-fixture.js';
import { fakeModel, makeRun, seedStore, specYaml } from './test-steps-fixture.js';

const sandbox = useGitSandbox();
const stores: LocalRunStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

describe('step 3 design-tests: context firewall', () => {
  let store: LocalRunStore;
  beforeAll(async () => {
    ({ store } = await seedRunDir(sandbox.base));
    stores.push(store);
  });

  it('renders only 01, the intent and the spec files: no skill, no probe folders, no reports', async () => {
    const { model } = fakeModel({});
    const run = await makeRun(store, { model, directives: ['cover releases harder'] });
    const prompt = await renderDesignTestsPrompt(await gatherDesignTestsInput(store, run));
    const text = `${prompt.shared}\n${prompt.task}`;
    expectOnly(
      text,
      ['intent.md', '01-functionality.md', 'tests/add-entry/spec.yaml', 'tests/release/spec.yaml'],
      [...HELDOUT_MARKERS, 'VISIBLE_TRIAL_1', 'Vendored body', 'Improved body'],
    );
    expect(text).toContain('cover releases harder');
    expect(text).toContain('about 25% of all probes');
  });
});

const probe = (id: string, heldout = false) => ({ id, intent: `Check ${id} concretely.`, heldout });

function designed(functionalities: DesignOutput['functionalities']): DesignOutput {
  return { rationale: 'Covers the responsibilities by priority.', functionalities };
}

/** A designer that answers the same proposal on every call. */
const designer = (out: DesignOutput) => fakeModel({ 'test-designer': () => out });

async function commitOutcome(
  store: LocalRunStore,
  outcome: { changes: Parameters<LocalRunStore['commit']>[1] },
) {
  return store.commit('step 3', outcome.changes);
}

describe('step 3 design-tests: maintenance of spec files', () => {
  const humanPicked = specYaml({
    functionality: 'add-entry',
    picked: true,
    priority: 1,
    probes: [{ id: 'fixed-with-pr' }, { id: 'security-fix', heldout: true }],
    comment: 'a human tuned this spec',
  });
  const unpicked = specYaml({
    functionality: 'release',
    picked: false,
    priority: 2,
    probes: [{ id: 'cut-minor' }, { id: 'cut-patch' }],
  });
  const proposal = designed([
    {
      id: 'add-entry',
      responsibility: 'Rewritten by the model.',
      priority: 5,
      probes: [probe('other')],
    },
    {
      id: 'release',
      responsibility: 'Revised release duty.',
      priority: 2,
      probes: [probe('cut-major'), probe('yank')],
    },
    {
      id: 'create-file',
      responsibility: 'Create a changelog.',
      priority: 3,
      probes: [probe('missing'), probe('from-git-log')],
    },
  ]);

  it('keeps existing specs as they are and adds new ones unpicked; 03 lists them all', async () => {
    const store = await seedStore(sandbox.base, {
      'tests/add-entry/spec.yaml': humanPicked,
      'tests/release/spec.yaml': unpicked,
    });
    stores.push(store);
    const { model, calls } = designer(proposal);
    const outcome = await runDesignTests(await makeRun(store, { model }));
    expect(calls.map((c) => c.role)).toEqual(['test-designer']);
    expect(outcome.changes.map((c) => c.path).sort()).toEqual([
      '03-test-proposals.md',
      'tests/create-file/spec.yaml',
    ]);
    await commitOutcome(store, outcome);

    expect(await store.read('tests/add-entry/spec.yaml')).toBe(humanPicked);
    expect(await store.read('tests/release/spec.yaml')).toBe(unpicked);
    const specs = await readSpecs(store);
    const created = specs.find((s) => s.functionality === 'create-file');
    expect(created).toMatchObject({
      picked: false,
      priority: 3,
      responsibility: 'Create a changelog.',
    });

    const report = parseFrontmatter(
      (await store.read('03-test-proposals.md')) ?? '',
      '03',
      proposalsFrontmatter,
    );
    expect(report.data.functionalities).toEqual(['add-entry', 'release', 'create-file']);
    expect(report.body).toContain('| `create-file` | 3 | no | 2 |');
    expect(report.body).toContain('| `add-entry` | 1 | yes | 2 | 1 | kept (picked) |');
    expect(report.body).toContain('skill-optimizer pick <f1,f2|all|top N>');
    expect(outcome.result).toMatch(/^3 functionalities \(1 new\), 6 probes, /);
  });

  it('preserves picks across a design re-run', async () => {
    const store = await seedStore(sandbox.base, { 'tests/release/spec.yaml': unpicked });
    stores.push(store);
    const { model } = designer(proposal);
    await commitOutcome(store, await runDesignTests(await makeRun(store, { model })));
    const picks = await applyPicks(store, { ids: ['create-file'] });
    await store.commit('pick create-file', picks.changes);
    const pickedText = await store.read('tests/create-file/spec.yaml');

    const again = await runDesignTests(await makeRun(store, { model }));
    expect(again.changes.map((c) => c.path)).toEqual(['03-test-proposals.md']);
    await commitOutcome(store, again);
    expect(await store.read('tests/create-file/spec.yaml')).toBe(pickedText);
    expect((await readSpecs(store)).filter((s) => s.picked).map((s) => s.functionality)).toEqual([
      'create-file',
    ]);
  });

  it('on a revision replaces unpicked specs, keeps picked ones, and checkpoints uncommitted edits first', async () => {
    const store = await seedStore(sandbox.base, {
      'tests/add-entry/spec.yaml': humanPicked,
      'tests/release/spec.yaml': unpicked,
    });
    stores.push(store);
    // A human edit not yet committed on the work branch.
    const edited = unpicked.replace('priority: 2', 'priority: 4');
    await writeFile(store.absolutePath('tests/release/spec.yaml'), edited);
    const worktree = store.absolutePath('');
    const before = git(worktree, 'rev-parse', 'HEAD');

    const { model, calls } = designer(proposal);
    const outcome = await runDesignTests(
      await makeRun(store, { model, directives: ['make the release probes harder'] }),
    );
    // The designer read the checkpointed edit.
    expect(calls[0]?.text).toContain('priority: 4');
    const checkpoint = git(worktree, 'rev-parse', 'HEAD');
    expect(checkpoint).not.toBe(before);
    expect(git(worktree, 'log', '-1', '--format=%s')).toContain('checkpoint');
    expect(git(worktree, 'show', `${checkpoint}:${store.runDir}/tests/release/spec.yaml`)).toBe(
      edited.trim(),
    );

    expect(outcome.changes.map((c) => c.path).sort()).toEqual([
      '03-test-proposals.md',
      'tests/create-file/spec.yaml',
      'tests/release/spec.yaml',
    ]);
    await commitOutcome(store, outcome);
    expect(await store.read('tests/add-entry/spec.yaml')).toBe(humanPicked);
    const release = (await readSpecs(store)).find((s) => s.functionality === 'release');
    expect(release?.responsibility).toBe('Revised release duty.');
    expect(release?.probes.map((p) => p.id)).toEqual(['cut-major', 'yank']);
    expect(release?.picked).toBe(false);
    expect(outcome.result).toContain('1 revised');
    expect((await store.read('03-test-proposals.md')) ?? '').toContain(checkpoint.slice(0, 12));
  });

  it('makes no checkpoint commit when a revision finds nothing uncommitted', async () => {
    const store = await seedStore(sandbox.base, { 'tests/release/spec.yaml': unpicked });
    stores.push(store);
    const head = await store.head();
    const { model } = designer(proposal);
    const outcome = await runDesignTests(await makeRun(store, { model, directives: ['revise'] }));
    expect(await store.head()).toBe(head);
    expect(outcome.changes.map((c) => c.path)).toContain('tests/release/spec.yaml');
  });

  it('fixes the held-out share when the designer marks none, and says so', async () => {
    const store = await seedStore(sandbox.base);
    stores.push(store);
    const { model } = designer(
      designed([
        {
          id: 'add-entry',
          responsibility: 'Add.',
          priority: 1,
          probes: ['a', 'b', 'c', 'd'].map((p) => probe(p)),
        },
        {
          id: 'release',
          responsibility: 'Release.',
          priority: 2,
          probes: ['e', 'f', 'g', 'h'].map((p) => probe(p)),
        },
      ]),
    );
    const outcome = await runDesignTests(await makeRun(store, { model }));
    await commitOutcome(store, outcome);
    const specs = await readSpecs(store);
    const heldout = specs.flatMap((s) =>
      s.probes.filter((p) => p.heldout).map((p) => `${s.functionality}/${p.id}`),
    );
    expect(heldout).toHaveLength(2);
    expect(outcome.result).toContain('2 held-out (share fixed by the operator)');
    const body = (await store.read('03-test-proposals.md')) ?? '';
    expect(body).toContain('Target: 2 of 8 probes (25%)');
    for (const id of heldout) expect(body).toContain(`\`${id}\` → held-out`);
  });

  it('leaves a designer share that meets the target as it is', async () => {
    const store = await seedStore(sandbox.base);
    stores.push(store);
    const { model } = designer(
      designed([
        {
          id: 'add-entry',
          responsibility: 'Add.',
          priority: 1,
          probes: [probe('a'), probe('b', true), probe('c'), probe('d')],
        },
      ]),
    );
    const outcome = await runDesignTests(await makeRun(store, { model }));
    expect(outcome.result).not.toContain('fixed');
    await commitOutcome(store, outcome);
    const [spec] = await readSpecs(store);
    expect(spec?.probes.map((p) => p.heldout)).toEqual([false, true, false, false]);
  });
});

describe('fixHeldoutShare', () => {
  const spec = (f: string, marks: boolean[], picked = false): SpecFile => ({
    functionality: f,
    picked,
    priority: 1,
    responsibility: 'r',
    probes: marks.map((heldout, i) => ({ id: `p${i}`, intent: 'i', heldout })),
  });

  it('is deterministic and never touches preserved specs', () => {
    const preserved = [spec('kept', [true, true, true, false], true)];
    const editable = [spec('a', [true, true]), spec('b', [true, false])];
    const first = fixHeldoutShare(preserved, editable, 0.25);
    const second = fixHeldoutShare(preserved, editable, 0.25);
    expect(first).toEqual(second);
    expect(first.target).toBe(2);
    // The three preserved held-out probes cannot change, so every editable one becomes visible.
    expect(first.specs.flatMap((s) => s.probes.map((p) => p.heldout))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(first.heldout).toBe(3);
    expect(preserved[0]?.probes.filter((p) => p.heldout)).toHaveLength(3);
    expect(editable[0]?.probes.every((p) => p.heldout)).toBe(true);
  });

  it('keeps a visible probe in each functionality while it can', () => {
    const fix = fixHeldoutShare([], [spec('a', [false]), spec('b', [false, false, false])], 0.5);
    expect(fix.target).toBe(2);
    expect(fix.specs[0]?.probes[0]?.heldout).toBe(false);
    expect(fix.specs[1]?.probes.filter((p) => p.heldout)).toHaveLength(2);
  });
});
