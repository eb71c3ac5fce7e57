import { posix } from 'node:path';
import type { FileChange, RunStore } from '../store/port.js';
import { normalizeRelativePath } from '../store/run-path.js';
import { codeSpan, escapeMarkdown } from '../text/escape-markdown.js';
import { RUN_FILES, STEPS } from './catalog.js';
import { readReport } from './inputs.js';
import { functionalityFrontmatter, submissionsFrontmatter } from './reports.js';
import { type BenchPoint, type ChainState, readState } from './state.js';

/**
 * Publishing (docs/chain.md): what a finished run proposes and where. The chain PR is never merged;
 * a finished run with an approved improvement and a bench gain gets a separate branch whose only
 * change is the improved skill at the skill's path — a draft PR stacked on the skill PR, or, for
 * upstream-bound runs, a draft PR to the upstream target of `02-submissions.md`. This module only
 * plans (reads the run store, decides, writes the texts); the GitHub side carries the plan out.
 */

export const PUBLISH_BRANCH_PREFIX = 'skill-optimizer/publish/';

/** `skill-optimizer/publish/<pr>-<slug>`: the branch holding only the improved skill. */
export function publishBranchName(pr: number, slug: string): string {
  return `${PUBLISH_BRANCH_PREFIX}${pr}-${slug}`;
}

/** The first bench and the last bench whose candidate was kept with the verdict *improved*. */
export interface BenchGain {
  first: BenchPoint;
  last: BenchPoint;
  /** Set when a human chose to publish although the skill does not beat the no-skill baseline. */
  baselineOverride: string | null;
}

/**
 * Why a run publishes nothing, or the benches that show its gain. Only a kept candidate whose
 * verdict is *improved* is published, and only when the kept skill beats the no-skill baseline
 * or a human answered the baseline gate with `publish-anyway` (docs/decision-rule.md).
 */
export function benchGain(state: ChainState): BenchGain | { reason: string } {
  if (state.status !== 'done' && state.status !== 'stopped') {
    return { reason: 'the run has not finished' };
  }
  const first = state.benches[0];
  if (first === undefined) return { reason: 'no bench ran' };
  const last = state.benches.findLast(
    (b) =>
      b.skill === 'improved-skill' &&
      b.kept &&
      b.verdict === 'improved' &&
      b.iteration > first.iteration,
  );
  if (last === undefined) {
    return {
      reason: 'no candidate was shown to improve the skill beyond noise (verdict improved)',
    };
  }
  const keptNow = state.benches.findLast((b) => b.kept) ?? last;
  let baselineOverride: string | null = null;
  if (keptNow.beats_baseline === false) {
    const decision = state.decisions.findLast((d) => d.gate === 'baseline');
    if (decision?.answer !== 'publish-anyway') {
      return {
        reason: `the skill adds nothing measurable on these probes: it does not beat the no-skill baseline beyond noise${keptNow.non_discriminating.length > 0 ? ` (passing without the skill: ${keptNow.non_discriminating.join(', ')})` : ''}`,
      };
    }
    baselineOverride = `${decision.by} chose to publish although the skill does not beat the no-skill baseline beyond noise`;
  }
  return { first, last, baselineOverride };
}

/** How `02-submissions.md` says each part of an upstream PR should be written. */
export interface Conventions {
  title: string | null;
  description: string | null;
  commits: string | null;
  frontmatter: string | null;
}

export type PublishTarget =
  /** A draft PR into the skill PR's head branch (the Action picks the branch). */
  | { kind: 'stacked' }
  | {
      kind: 'upstream';
      owner: string;
      repo: string;
      baseBranch: string;
      license: string;
      requiresCla: boolean;
      conventions: Conventions;
    };

export interface PublishPlan {
  slug: string;
  skillName: string;
  branch: string;
  target: PublishTarget;
  /** Where the skill goes in the target repository. */
  skillPath: string;
  /** The commit the run vendored the skill from (a stacked branch starts there). */
  sourceCommit: string;
  /** Repository-relative changes that make the folder exactly the improved skill. */
  changes: FileChange[];
  title: string;
  body: string;
  commitMessage: string;
  gain: BenchGain;
  weaknesses: string[];
}

export type PublishDecision =
  | { kind: 'publish'; plan: PublishPlan }
  /** Nothing to publish; not a failure. */
  | { kind: 'skip'; reason: string }
  /** There is something to publish, but not where the run says; a human has to act. */
  | { kind: 'refuse'; reason: string };

export interface PublishLinks {
  skillPr: number;
  chainPr: number;
  /** Absolute URL of the chain PR (upstream PRs live in another repository). */
  chainPrUrl: string;
}

/** Reads the finished run and plans its publication. */
export async function planPublication(
  store: RunStore,
  links: PublishLinks,
): Promise<PublishDecision> {
  const state = await readState(store);
  if (state === null) return { kind: 'skip', reason: 'the run has no state yet' };
  const gain = benchGain(state);
  if ('reason' in gain) return { kind: 'skip', reason: gain.reason };
  if (!(await store.exists(`${RUN_FILES.improved}/SKILL.md`))) {
    return { kind: 'skip', reason: 'there is no improved skill (improved-skill/SKILL.md)' };
  }
  if (await store.isStale([STEPS.bench.report], [RUN_FILES.improved])) {
    return {
      kind: 'skip',
      reason:
        'improved-skill/ changed after the last bench, so the improvement on the branch is unmeasured; run `/optimize rerun bench` first',
    };
  }
  const f01 = await readReport(store, STEPS.functionality.report, functionalityFrontmatter);
  const skillName = f01?.data.skill_name ?? state.slug;
  let target: PublishTarget = { kind: 'stacked' };
  let skillPath = state.skill_path;
  if (state.upstream === true) {
    const f02 = await readReport(store, STEPS.submissions.report, submissionsFrontmatter);
    if (f02 === null) {
      return {
        kind: 'refuse',
        reason: `the run is upstream-bound but ${store.runDir}/${STEPS.submissions.report} is missing; run \`/optimize rerun submissions\` and then \`/optimize\``,
      };
    }
    const [owner = '', repo = ''] = f02.data.pr_target_repo.split('/');
    if (owner === 'local') {
      return {
        kind: 'refuse',
        reason: `02-submissions.md names \`${f02.data.pr_target_repo}\` as the upstream target: step 2 read a local repository, so there is nothing on GitHub to fork. Re-run step 2 here (\`/optimize rerun submissions\`) or open the upstream PR by hand from \`${store.runDir}/${RUN_FILES.improved}/\``,
      };
    }
    skillPath = normalizeRelativePath(f02.data.pr_target_path, 'the upstream repository');
    target = {
      kind: 'upstream',
      owner,
      repo,
      baseBranch: f02.data.base_branch,
      license: f02.data.license,
      requiresCla: f02.data.requires_cla,
      conventions: submissionConventions(f02.body),
    };
  }
  const changes = await skillChanges(store, skillPath);
  const weaknesses = [...state.weaknesses_addressed];
  const title = publishTitle(target, skillName, gain);
  return {
    kind: 'publish',
    plan: {
      slug: state.slug,
      skillName,
      branch: publishBranchName(links.skillPr, state.slug),
      target,
      skillPath,
      sourceCommit: state.source_commit,
      changes,
      title,
      body: renderPublishBody({ target, skillName, skillPath, gain, weaknesses, links }),
      commitMessage: `${title}\n\n${commitSummary(gain, links)}\n`,
      gain,
      weaknesses,
    },
  };
}

/**
 * The changes that make `skillPath` exactly improved-skill/: the folder is cleared and written
 * anew (at the repository root only files the improvement dropped are deleted, never the root).
 * Text goes as text, anything that is not clean UTF-8 as bytes.
 */
async function skillChanges(store: RunStore, skillPath: string): Promise<FileChange[]> {
  const root = skillPath === '' || skillPath === '.';
  const at = (rel: string) => (root ? rel : posix.join(skillPath, rel));
  const improved = await filesOf(store, RUN_FILES.improved);
  const changes: FileChange[] = [];
  if (root) {
    for (const rel of (await filesOf(store, RUN_FILES.vendored)).keys()) {
      if (!improved.has(rel)) changes.push({ path: rel, delete: true });
    }
  } else {
    changes.push({ path: skillPath, delete: true });
  }
  for (const [rel, bytes] of improved) {
    const text = bytes.toString('utf8');
    const clean = !bytes.includes(0) && Buffer.from(text, 'utf8').equals(bytes);
    changes.push({ path: at(rel), content: clean ? text : bytes });
  }
  return changes;
}

async function filesOf(store: RunStore, folder: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const path of await store.list(folder)) {
    const bytes = await store.readBytes(path);
    if (bytes !== null) files.set(path.slice(folder.length + 1), bytes);
  }
  return files;
}

/** The convention lines step 2 wrote into `02-submissions.md`'s body. */
export function submissionConventions(body: string): Conventions {
  const line = (label: string) => {
    const match = new RegExp(`^- \\*\\*${label}:\\*\\* (.+)$`, 'm').exec(body);
    const text = match?.[1]?.trim() ?? '';
    return text === '' || /^no visible convention\.?$/i.test(text) ? null : text;
  };
  return {
    title: line('Title'),
    description: line('Description'),
    commits: line('Commits'),
    frontmatter: line('SKILL.md frontmatter'),
  };
}

/**
 * The title prefix a convention shows by example, e.g. `prefixed with the skill name:
 * "keep-a-changelog: ..."` gives `keep-a-changelog: `. Null when it shows none.
 */
export function titlePrefix(convention: string | null): string | null {
  if (convention === null) return null;
  const example = /["“'`]([^"”'`\n]{1,80}?)\s*(?:\.\.\.|…)\s*["”'`]/.exec(convention);
  const prefix = example?.[1]?.replace(/\s+/g, ' ').trim() ?? '';
  return /^\S.*[:\]]$/.test(prefix) ? `${prefix} ` : null;
}

function publishTitle(target: PublishTarget, skillName: string, gain: BenchGain): string {
  const what = `improve the skill (bench pass rate ${pct(gain.first.pass_rate)} → ${pct(gain.last.pass_rate)})`;
  const name = skillName.replace(/[\r\n`]/g, ' ').trim();
  const prefix =
    (target.kind === 'upstream' ? titlePrefix(target.conventions.title) : null) ?? `${name}: `;
  return `${prefix}${what}`;
}

function pct(rate: number | null): string {
  return rate === null ? '—' : `${rate}%`;
}

/** First vs last kept bench: rates with intervals and trial counts, minimum, baseline, verdict. */
export function renderBenchTable(gain: BenchGain): string {
  const { first, last } = gain;
  const withInterval = (rate: number | null, i: [number, number] | null, n: number) =>
    rate === null ? '—' : `${rate}%${i ? ` [${i[0]}–${i[1]}]` : ''} (${n} graded)`;
  return [
    `| bench | before (bench ${first.iteration}, \`${first.skill}\`) | after (bench ${last.iteration}, \`${last.skill}\`) |`,
    '| --- | --- | --- |',
    `| pass rate | ${withInterval(first.pass_rate, first.pass_rate_interval, first.graded)} | ${withInterval(last.pass_rate, last.pass_rate_interval, last.graded)} |`,
    `| held-out probes | ${withInterval(first.heldout_pass_rate, first.heldout_interval, first.heldout_graded)} | ${withInterval(last.heldout_pass_rate, last.heldout_interval, last.heldout_graded)} |`,
    `| per-probe minimum | ${pct(first.min_probe_pass_rate)} | ${pct(last.min_probe_pass_rate)} |`,
    `| errored trials | ${first.errored} | ${last.errored} |`,
    `| baseline (no skill) | ${pct(first.baseline_pass_rate)} | ${pct(last.baseline_pass_rate ?? first.baseline_pass_rate)} |`,
    '',
    `**Verdict: ${last.verdict ?? '—'}** — ${escapeMarkdown(last.verdict_reason ?? '')}`,
    ...(gain.baselineOverride ? ['', `**Note:** ${gain.baselineOverride}.`] : []),
  ].join('\n');
}

function renderPublishBody(opts: {
  target: PublishTarget;
  skillName: string;
  skillPath: string;
  gain: BenchGain;
  weaknesses: string[];
  links: PublishLinks;
}): string {
  const name = codeSpan(opts.skillName.trim());
  const where =
    opts.skillPath === '' || opts.skillPath === '.'
      ? 'the repository root'
      : codeSpan(opts.skillPath);
  const chain = opts.target.kind === 'upstream' ? opts.links.chainPrUrl : `#${opts.links.chainPr}`;
  const lines = [
    `This changes only the ${name} skill at ${where}. Its instructions were revised to address the weaknesses below, and the revision was benchmarked against the same probes as the original before it was kept.`,
    '',
    '## Before and after',
    '',
    renderBenchTable(opts.gain),
    '',
    'Pass rates pool every graded trial, with their two-sided intervals in brackets; errored trials are not in the rates. Held-out probes were never shown to the model that wrote the revision, and the tool scanned every analysis, proposal and verdict for their literals; the baseline runs the same probes without the skill.',
    '',
    '## Weaknesses addressed',
    '',
    ...(opts.weaknesses.length === 0
      ? ['(none recorded)']
      : opts.weaknesses.map((w) => `- ${codeSpan(w)}`)),
    '',
    '## Evidence',
    '',
    `The probes, every bench's raw results, the analysis and the reviewed proposal are in ${chain}.`,
    '',
  ];
  if (opts.target.kind === 'stacked') {
    lines.push(
      `Opened as a draft into the branch of #${opts.links.skillPr}; merge it there if you want the improvement.`,
      '',
    );
  }
  return lines.join('\n');
}

function commitSummary(gain: BenchGain, links: PublishLinks): string {
  return `Bench pass rate ${pct(gain.first.pass_rate)} → ${pct(gain.last.pass_rate)} (held-out ${pct(gain.first.heldout_pass_rate)} → ${pct(gain.last.heldout_pass_rate)}). Evidence: ${links.chainPrUrl}`;
}
