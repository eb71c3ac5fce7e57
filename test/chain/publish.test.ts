import { describe, expect, it } from 'vitest';
import { renderFrontmatter } from '../../src/bench/frontmatter.js';
import {
  benchGain,
  planPublication,
  publishBranchName,
  renderBenchTable,
  submissionConventions,
  titlePrefix,
} from '../../src/chain/publish.js';
import {
  type BenchPoint,
  benchPointSchema,
  type ChainState,
  initialState,
  renderState,
} from '../../src/chain/state.js';
import type { FileChange, RunStore } from '../../src/store/port.js';

/** The reads a plan makes, over a map of run-dir files; `stale` answers isStale. */
class MemoryStore implements RunStore {
  readonly slug = 'keep-a-changelog';
  readonly runDir = '.skill-optimizer/keep-a-changelog';
  readonly branch = 'skill-optimizer/2-keep-a-changelog';
  stale = false;
  constructor(readonly files: Map<string, Buffer>) {}
  async read(path: string) {
    return this.files.get(path)?.toString('utf8') ?? null;
  }
  async readBytes(path: string) {
    return this.files.get(path) ?? null;
  }
  async list(dir: string) {
    return [...this.files.keys()].filter((p) => p.startsWith(`${dir}/`)).sort();
  }
  async exists(path: string) {
    return this.files.has(path) || (await this.list(path)).length > 0;
  }
  async isStale() {
    return this.stale;
  }
  commit(_m: string, _c: FileChange[]): Promise<string> {
    throw new Error('a plan never commits');
  }
  checkpoint(): Promise<string | null> {
    throw new Error('a plan never commits');
  }
  head(): Promise<string> {
    throw new Error('not needed');
  }
  lastCommitTouching(): Promise<string | null> {
    throw new Error('not needed');
  }
  isAncestor(): Promise<boolean> {
    throw new Error('not needed');
  }
  absolutePath(): string {
    throw new Error('not needed');
  }
}

const bench = (over: Partial<BenchPoint>): BenchPoint =>
  benchPointSchema.parse({
    iteration: 0,
    skill: 'vendored-skill',
    pass_rate: 40,
    heldout_pass_rate: 50,
    min_probe_pass_rate: 0,
    baseline_pass_rate: 20,
    accepted: null,
    results_dir: '06-bench-results/a',
    graded: 15,
    heldout_graded: 4,
    pass_rate_interval: [19.8, 64.3],
    heldout_interval: [15, 85],
    beats_baseline: true,
    ...over,
  });

function finished(over: Partial<ChainState> = {}): ChainState {
  return {
    ...initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'a'.repeat(40),
      autopilot: false,
    }),
    status: 'done',
    stop_reason: 'pass rate 90% reached the threshold of 80%',
    upstream: false,
    benches: [
      bench({}),
      bench({
        iteration: 1,
        skill: 'improved-skill',
        pass_rate: 90,
        heldout_pass_rate: 100,
        min_probe_pass_rate: 67,
        accepted: true,
        verdict: 'improved',
        verdict_reason: 'held-out pass rate rose beyond noise',
        pass_rate_interval: [69.9, 97.2],
        heldout_interval: [43.9, 100],
        heldout_graded: 3,
      }),
    ],
    weaknesses_addressed: ['release-steps-missing'],
    ...over,
  };
}

const SUBMISSIONS_BODY = [
  '# Submitting to `acme/skills`',
  '',
  '## Conventions to follow',
  '',
  '- **Title:** Imperative mood, prefixed with the skill name: "keep-a-changelog: ..."',
  '- **Description:** What changed for users of the skill and how it was checked.',
  '- **Commits:** One logical change per commit, signed off.',
  '- **SKILL.md frontmatter:** no visible convention',
].join('\n');

function store(
  state: ChainState,
  extra: Record<string, string | Buffer> = {},
  opts: { submissions?: Record<string, unknown> } = {},
) {
  const files = new Map<string, Buffer>();
  const put = (path: string, content: string | Buffer) =>
    files.set(path, typeof content === 'string' ? Buffer.from(content) : content);
  put('chain.yml', renderState(state));
  put(
    '01-functionality.md',
    renderFrontmatter(
      {
        skill_name: 'keep-a-changelog',
        skill_source: 'skills/keep-a-changelog',
        classification: 'document',
        pr_submission_intent: state.upstream === true,
        likely_wrapper: false,
        wrapper_points_to: null,
      },
      '# Responsibilities',
    ),
  );
  put('vendored-skill/SKILL.md', '---\nname: keep-a-changelog\n---\nold\n');
  put('vendored-skill/reference/old.md', 'dropped by the improvement\n');
  put('improved-skill/SKILL.md', '---\nname: keep-a-changelog\n---\nnew\n');
  put('improved-skill/reference/change-types.md', 'types\n');
  put('improved-skill/icon.bin', Buffer.from([0, 1, 2, 255]));
  if (opts.submissions) {
    put('02-submissions.md', renderFrontmatter(opts.submissions, SUBMISSIONS_BODY));
  }
  for (const [path, content] of Object.entries(extra)) put(path, content);
  return new MemoryStore(files);
}

const LINKS = {
  skillPr: 2,
  chainPr: 3,
  chainPrUrl: 'https://github.com/Codertocat/Hello-World/pull/3',
};

describe('benchGain', () => {
  it('compares the first bench with the last accepted one', () => {
    const gain = benchGain(finished());
    expect(gain).toMatchObject({ first: { iteration: 0 }, last: { iteration: 1, pass_rate: 90 } });
  });

  it('skips a later regression and uses the last bench whose improvement was kept', () => {
    const state = finished();
    state.benches.push(
      bench({ iteration: 2, skill: 'improved-skill', pass_rate: 70, accepted: false }),
    );
    expect(benchGain(state)).toMatchObject({ last: { iteration: 1 } });
  });

  it('publishes nothing before the end, without benches, without an accepted gain', () => {
    expect(benchGain(finished({ status: 'gate' }))).toEqual({
      reason: 'the run has not finished',
    });
    expect(benchGain(finished({ benches: [] }))).toEqual({ reason: 'no bench ran' });
    const noVerdict = 'no candidate was shown to improve the skill beyond noise (verdict improved)';
    const rejected = finished();
    Object.assign(rejected.benches[1] as BenchPoint, {
      accepted: false,
      kept: false,
      verdict: 'rejected',
    });
    expect(benchGain(rejected)).toEqual({ reason: noVerdict });
    // A higher rate that is not beyond noise is not an improvement, whatever the numbers say.
    const inconclusive = finished();
    Object.assign(inconclusive.benches[1] as BenchPoint, {
      accepted: false,
      kept: false,
      verdict: 'inconclusive',
    });
    expect(benchGain(inconclusive)).toEqual({ reason: noVerdict });
  });

  it('publishes nothing when the kept skill does not beat no skill, unless a human chose to', () => {
    const flat = finished();
    Object.assign(flat.benches[1] as BenchPoint, {
      beats_baseline: false,
      non_discriminating: ['release/cut-patch-release'],
    });
    expect(benchGain(flat)).toEqual({
      reason:
        'the skill adds nothing measurable on these probes: it does not beat the no-skill baseline beyond noise (passing without the skill: release/cut-patch-release)',
    });
    const chosen = finished({
      decisions: [
        {
          gate: 'baseline',
          answer: 'publish-anyway',
          by: 'octocat',
          at: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
    Object.assign(chosen.benches[1] as BenchPoint, { beats_baseline: false });
    const gain = benchGain(chosen);
    expect('reason' in gain ? gain.reason : gain.baselineOverride).toBe(
      'octocat chose to publish although the skill does not beat the no-skill baseline beyond noise',
    );
    if (!('reason' in gain)) expect(renderBenchTable(gain)).toContain('**Note:** octocat chose');
  });

  it('counts a run stopped short of its goal when the improvement it kept gained', () => {
    expect(benchGain(finished({ status: 'stopped' }))).toHaveProperty('last');
  });
});

describe('planPublication', () => {
  it('stacks the improved skill on the skill PR: the folder replaced, bytes kept as bytes', async () => {
    const decision = await planPublication(store(finished()), LINKS);
    expect(decision.kind).toBe('publish');
    if (decision.kind !== 'publish') return;
    const plan = decision.plan;
    expect(plan.branch).toBe('skill-optimizer/publish/2-keep-a-changelog');
    expect(plan.target).toEqual({ kind: 'stacked' });
    expect(plan.skillPath).toBe('skills/keep-a-changelog');
    expect(plan.sourceCommit).toBe('a'.repeat(40));
    expect(plan.changes).toEqual([
      { path: 'skills/keep-a-changelog', delete: true },
      {
        path: 'skills/keep-a-changelog/SKILL.md',
        content: '---\nname: keep-a-changelog\n---\nnew\n',
      },
      { path: 'skills/keep-a-changelog/icon.bin', content: Buffer.from([0, 1, 2, 255]) },
      { path: 'skills/keep-a-changelog/reference/change-types.md', content: 'types\n' },
    ]);
    expect(plan.title).toBe('keep-a-changelog: improve the skill (bench pass rate 40% → 90%)');
    expect(plan.body).toContain(renderBenchTable(plan.gain));
    expect(plan.body).toContain('- `release-steps-missing`');
    expect(plan.body).toContain('are in #3.');
    expect(plan.body).toContain('into the branch of #2');
    expect(plan.commitMessage).toBe(
      'keep-a-changelog: improve the skill (bench pass rate 40% → 90%)\n\nBench pass rate 40% → 90% (held-out 50% → 100%). Evidence: https://github.com/Codertocat/Hello-World/pull/3\n',
    );
    // Nothing of the run dir leaves it: no reports, no results, only the skill's folder.
    expect(plan.changes.every((c) => c.path.startsWith('skills/keep-a-changelog'))).toBe(true);
  });

  it('goes upstream to 02-submissions.md target, path and base, titled by its convention', async () => {
    const decision = await planPublication(
      store(
        finished({ upstream: true }),
        {},
        {
          submissions: {
            pr_target_repo: 'acme/skills',
            pr_target_path: 'skills/changelog',
            base_branch: 'main',
            license: 'MIT',
            requires_cla: true,
          },
        },
      ),
      LINKS,
    );
    if (decision.kind !== 'publish') throw new Error(`expected a plan, got ${decision.kind}`);
    const { plan } = decision;
    expect(plan.target).toEqual({
      kind: 'upstream',
      owner: 'acme',
      repo: 'skills',
      baseBranch: 'main',
      license: 'MIT',
      requiresCla: true,
      conventions: {
        title: 'Imperative mood, prefixed with the skill name: "keep-a-changelog: ..."',
        description: 'What changed for users of the skill and how it was checked.',
        commits: 'One logical change per commit, signed off.',
        frontmatter: null,
      },
    });
    expect(plan.skillPath).toBe('skills/changelog');
    expect(plan.changes[0]).toEqual({ path: 'skills/changelog', delete: true });
    expect(plan.changes.slice(1).map((c) => c.path)).toEqual([
      'skills/changelog/SKILL.md',
      'skills/changelog/icon.bin',
      'skills/changelog/reference/change-types.md',
    ]);
    expect(plan.body).toContain(`are in ${LINKS.chainPrUrl}.`);
    expect(plan.body).not.toContain('into the branch of #2');
  });

  it('never forks a local/ target from local mode; says what to do instead', async () => {
    const decision = await planPublication(
      store(
        finished({ upstream: true }),
        {},
        {
          submissions: {
            pr_target_repo: 'local/skills',
            pr_target_path: 'skills/keep-a-changelog',
            base_branch: 'main',
            license: 'MIT',
            requires_cla: false,
          },
        },
      ),
      LINKS,
    );
    expect(decision.kind).toBe('refuse');
    expect(decision.kind === 'refuse' && decision.reason).toContain(
      'step 2 read a local repository, so there is nothing on GitHub to fork',
    );
  });

  it('refuses an upstream-bound run without 02-submissions.md', async () => {
    const decision = await planPublication(store(finished({ upstream: true })), LINKS);
    expect(decision).toMatchObject({ kind: 'refuse' });
  });

  it('skips when there is no gain, no improved skill, or an unbenched improvement', async () => {
    expect(await planPublication(store(finished({ status: 'running' })), LINKS)).toEqual({
      kind: 'skip',
      reason: 'the run has not finished',
    });
    const noImproved = store(finished());
    for (const path of await noImproved.list('improved-skill')) noImproved.files.delete(path);
    expect((await planPublication(noImproved, LINKS)).kind).toBe('skip');
    const unbenched = store(finished());
    unbenched.stale = true;
    expect(await planPublication(unbenched, LINKS)).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('unmeasured'),
    });
  });

  it('at the repository root deletes only the files the improvement dropped', async () => {
    const decision = await planPublication(store(finished({ skill_path: '.' })), LINKS);
    if (decision.kind !== 'publish') throw new Error('expected a plan');
    expect(decision.plan.changes.map((c) => ('delete' in c ? `-${c.path}` : c.path))).toEqual([
      '-reference/old.md',
      'SKILL.md',
      'icon.bin',
      'reference/change-types.md',
    ]);
  });
});

describe('the texts', () => {
  it('renders the before/after table: intervals, trial counts, minimum, errors, baseline, verdict', () => {
    const gain = benchGain(finished());
    if ('reason' in gain) throw new Error(gain.reason);
    expect(renderBenchTable(gain)).toBe(
      [
        '| bench | before (bench 0, `vendored-skill`) | after (bench 1, `improved-skill`) |',
        '| --- | --- | --- |',
        '| pass rate | 40% [19.8–64.3] (15 graded) | 90% [69.9–97.2] (15 graded) |',
        '| held-out probes | 50% [15–85] (4 graded) | 100% [43.9–100] (3 graded) |',
        '| per-probe minimum | 0% | 67% |',
        '| errored trials | 0 | 0 |',
        '| baseline (no skill) | 20% | 20% |',
        '',
        '**Verdict: improved** — held-out pass rate rose beyond noise',
      ].join('\n'),
    );
  });

  it('reads the conventions out of 02 and a title prefix out of an example', () => {
    expect(submissionConventions('nothing here')).toEqual({
      title: null,
      description: null,
      commits: null,
      frontmatter: null,
    });
    expect(titlePrefix('prefixed: "keep-a-changelog: ..."')).toBe('keep-a-changelog: ');
    expect(titlePrefix('like `[skills] …`')).toBe('[skills] ');
    expect(titlePrefix('e.g. "feat(skills): ..."')).toBe('feat(skills): ');
    expect(titlePrefix('Imperative mood, e.g. "Add ..."')).toBeNull();
    expect(titlePrefix('no visible convention')).toBeNull();
    expect(titlePrefix(null)).toBeNull();
  });

  it('names the publish branch after the skill PR and the run', () => {
    expect(publishBranchName(12, 'pdf-tools')).toBe('skill-optimizer/publish/12-pdf-tools');
  });
});
