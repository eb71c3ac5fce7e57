import { z } from 'zod';
import { renderFrontmatter } from '../../bench/frontmatter.js';
import { PathEscapeError } from '../../errors.js';
import { normalizeRelativePath } from '../../store/run-path.js';
import { dataSection } from '../../text/sanitize.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  readIntent,
  requireReport,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import { type StepOutcome, StepRefusedError, type StepRun, type UpstreamInfo } from '../ports.js';
import { functionalityFrontmatter, submissionsFrontmatter } from '../reports.js';

/** Everything step 2 may see: 01, the upstream repository (read-only), intent, directives. */
export interface SubmissionsInput {
  functionality: string;
  upstream: UpstreamInfo;
  intent: string;
  directives: string[];
}

const oneLine = (text: string) => cleanText(text).replace(/\s+/g, ' ');

const repoPath = z
  .string()
  .min(1)
  .refine((p) => {
    try {
      normalizeRelativePath(p, 'the repository');
      return true;
    } catch (error) {
      if (error instanceof PathEscapeError) return false;
      throw error;
    }
  }, 'expected a repository-relative folder such as skills/my-skill');

export const submissionsOutput = z.strictObject({
  pr_target_path: repoPath.describe('Repository-relative folder the skill belongs in'),
  base_branch: z.string().regex(/^[\w][\w./-]*$/, 'expected a branch name such as main'),
  license: z.string().min(1).describe('SPDX identifier, or NOASSERTION'),
  requires_cla: z.boolean(),
  cla_evidence: z.string().describe('Where the CLA requirement (or its absence) shows'),
  conventions: z
    .strictObject({
      title: z.string().min(1),
      body: z.string().min(1),
      commits: z.string().min(1),
      frontmatter: z.string().min(1),
    })
    .describe('How this repository wants each part written; "no visible convention" when none'),
  rejection_patterns: z
    .array(z.string().min(1))
    .describe('What got changes turned down or reworked, one pattern each'),
  notes: z.array(z.string().min(1)).describe('Anything else a contributor must know'),
});
export type SubmissionsOutput = z.infer<typeof submissionsOutput>;

export async function gatherSubmissionsInput(
  run: Pick<StepRun, 'deps' | 'state' | 'directives'>,
): Promise<SubmissionsInput> {
  const { store, upstream } = run.deps;
  if (upstream === null) {
    throw new StepRefusedError('step 2 needs to read the upstream repository, and none is set');
  }
  const f = await requireReport(
    store,
    STEPS.functionality.report,
    functionalityFrontmatter,
    '1 (functionality)',
  );
  return {
    functionality: renderFrontmatter(f.data, f.body),
    upstream: await upstream.read(run.state.skill_path),
    intent: await readIntent(store),
    directives: run.directives,
  };
}

export async function renderSubmissionsPrompt(input: SubmissionsInput): Promise<RolePrompt> {
  const u = input.upstream;
  const changes = u.recentChanges.map(
    (c, i) => `### ${i + 1}. [${c.state}] ${c.title}\n\n${c.body.trim() || '(no description)'}`,
  );
  const facts = [
    `repository: ${u.repo}`,
    `default branch: ${u.defaultBranch}`,
    `skill found at: ${u.skillPath ?? 'not found upstream'}`,
  ].join('\n');
  return renderRolePrompt('submissions', {
    facts: dataSection('repository-facts', facts),
    functionality: dataSection(STEPS.functionality.report, input.functionality),
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    license: u.license === null ? '(no license file)' : dataSection('license', u.license),
    contributing:
      u.contributing === null
        ? '(no contributing guide)'
        : dataSection('contributing', u.contributing),
    recent_changes:
      changes.length === 0 ? '(no history)' : dataSection('recent-changes', changes.join('\n\n')),
    frontmatter_examples:
      u.skillFrontmatterExamples.length === 0
        ? '(none found)'
        : dataSection('frontmatter-examples', u.skillFrontmatterExamples.join('\n\n')),
  });
}

export async function askSubmissions(
  model: ChainModel,
  input: SubmissionsInput,
  signal?: AbortSignal,
): Promise<SubmissionsOutput> {
  return model.call(
    'submissions',
    await renderSubmissionsPrompt(input),
    {
      schema: submissionsOutput,
      toolName: 'report_submission_conventions',
      toolDescription:
        'Report where and how a pull request to the upstream repository must be made',
    },
    signal,
  );
}

/** The repository as `owner/name`; a local repository without a GitHub remote is `local/<folder>`. */
function targetRepo(repo: string): string {
  return repo.includes('/') ? repo : `local/${repo}`;
}

function renderBody(info: UpstreamInfo, out: SubmissionsOutput, repo: string): string {
  const list = (items: string[], none: string) =>
    items.length === 0 ? [none] : items.map((i) => `- ${oneLine(i)}`);
  return [
    `# Submitting to \`${oneLine(repo)}\``,
    '',
    `Target: \`${out.pr_target_path}\` on \`${out.base_branch}\`${info.skillPath === null ? ' (the skill was not found upstream; the path is proposed)' : ''}. License: ${oneLine(out.license)}.`,
    '',
    `CLA: ${out.requires_cla ? '**required** — a human must sign it before the PR can be merged' : 'not required'}. ${oneLine(out.cla_evidence)}`,
    '',
    '## Conventions to follow',
    '',
    `- **Title:** ${oneLine(out.conventions.title)}`,
    `- **Description:** ${oneLine(out.conventions.body)}`,
    `- **Commits:** ${oneLine(out.conventions.commits)}`,
    `- **SKILL.md frontmatter:** ${oneLine(out.conventions.frontmatter)}`,
    '',
    '## What got changes rejected',
    '',
    ...list(out.rejection_patterns, 'Nothing visible in the recent history.'),
    '',
    '## Notes',
    '',
    ...list(out.notes, 'None.'),
  ].join('\n');
}

/** Step 2 (fresh): the upstream repository's target, license, CLA and conventions. */
export async function runSubmissions(run: StepRun): Promise<StepOutcome> {
  if (run.state.upstream !== true) {
    throw new StepRefusedError(
      'step 2 runs only for upstream-bound runs; the upstream-PR intent is not confirmed',
    );
  }
  const input = await gatherSubmissionsInput(run);
  const out = await askSubmissions(run.deps.model, input, run.signal);
  const repo = targetRepo(input.upstream.repo);
  const path =
    input.upstream.skillPath ?? normalizeRelativePath(out.pr_target_path, 'the repository');
  const data = {
    pr_target_repo: repo,
    pr_target_path: path,
    base_branch: out.base_branch.trim(),
    license: out.license.trim(),
    requires_cla: out.requires_cla,
  };
  return {
    changes: [
      writeReport(
        STEPS.submissions.report,
        submissionsFrontmatter,
        data,
        renderBody(input.upstream, { ...out, pr_target_path: path }, repo),
        run.head,
      ),
    ],
    result: `${repo}:${path} → ${data.base_branch}, ${data.license}${data.requires_cla ? ', CLA required' : ''}`,
  };
}

export const SUBMISSIONS_READS = [STEPS.functionality.report, RUN_FILES.intent] as const;
