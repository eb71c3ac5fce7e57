import { z } from 'zod';
import { renderFrontmatter } from '../bench/frontmatter.js';
import type { RunStore } from '../store/port.js';
import { dataSection } from '../text/sanitize.js';
import { STEPS } from './catalog.js';
import { cleanText, intentSection, readIntent, readReport, requireReport } from './inputs.js';
import { type RolePrompt, renderRolePrompt } from './model.js';
import type { ChainDeps } from './ports.js';
import { analysisFrontmatter, functionalityFrontmatter, verdictFrontmatter } from './reports.js';
import type { BenchPoint } from './state.js';

/**
 * The non-convergence review (docs/chain.md): when a loop stops short of its goal, a fresh
 * subagent explains why and what a human should decide. It sees the bench progression
 * (aggregate rates only), the stop reason, 01, the latest 07 and 09, and the intent — never raw
 * trials, probes or per-probe held-out results.
 */

/** One bench of the progression: aggregate rates only (no results folder, no probe names). */
export type ProgressionPoint = Omit<BenchPoint, 'results_dir'>;

export interface ReviewInput {
  stopReason: string;
  threshold: number;
  progression: ProgressionPoint[];
  functionality: string;
  analysis: string | null;
  verdict: string | null;
  intent: string;
}

export interface ReviewRequest {
  stopReason: string;
  benches: readonly BenchPoint[];
  threshold: number;
  signal?: AbortSignal;
}

export const reviewOutput = z.strictObject({
  why_it_stalled: z.string().min(1).describe('The diagnosis in a short paragraph'),
  evidence: z
    .array(z.string().min(1))
    .min(1)
    .describe('What in the progression, analysis or verdict shows it'),
  decisions: z
    .array(
      z.strictObject({
        question: z.string().min(1),
        options: z
          .array(
            z.strictObject({
              option: z.string().min(1),
              consequence: z.string().min(1).describe('What follows if the human picks it'),
            }),
          )
          .min(2),
        recommendation: z.string().min(1),
      }),
    )
    .min(1)
    .max(5),
});
export type ReviewOutput = z.infer<typeof reviewOutput>;

const rate = (value: number | null) => (value === null ? '–' : `${value.toFixed(1)}%`);
const accepted = (value: boolean | null) => (value === null ? '–' : value ? 'yes' : 'no');

/** The progression as a markdown table (operator facts, no model text). */
export function progressionTable(points: readonly ProgressionPoint[]): string {
  if (points.length === 0) return '(no bench ran)';
  return [
    '| iteration | skill | pass rate | held-out pass rate | weakest probe | without the skill | accepted |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...points.map(
      (p) =>
        `| ${p.iteration} | \`${p.skill}\` | ${rate(p.pass_rate)} | ${rate(p.heldout_pass_rate)} | ${rate(p.min_probe_pass_rate)} | ${rate(p.baseline_pass_rate)} | ${accepted(p.accepted)} |`,
    ),
  ].join('\n');
}

export async function gatherReviewInput(
  store: RunStore,
  request: Omit<ReviewRequest, 'signal'>,
): Promise<ReviewInput> {
  const f = await requireReport(
    store,
    STEPS.functionality.report,
    functionalityFrontmatter,
    '1 (functionality)',
  );
  const analysis = await readReport(store, STEPS.analyze.report, analysisFrontmatter);
  const verdict = await readReport(store, STEPS.validate.report, verdictFrontmatter);
  return {
    stopReason: request.stopReason,
    threshold: request.threshold,
    progression: request.benches.map(({ results_dir: _dir, ...point }) => point),
    functionality: renderFrontmatter(f.data, f.body),
    analysis: analysis && renderFrontmatter(analysis.data, analysis.body),
    verdict: verdict && renderFrontmatter(verdict.data, verdict.body),
    intent: await readIntent(store),
  };
}

export async function renderReviewPrompt(input: ReviewInput): Promise<RolePrompt> {
  return renderRolePrompt('reviewer', {
    threshold: String(input.threshold),
    stop_reason: dataSection('stop-reason', input.stopReason),
    progression:
      input.progression.length === 0
        ? progressionTable([])
        : dataSection('progression', progressionTable(input.progression)),
    intent: intentSection(input.intent),
    functionality: dataSection(STEPS.functionality.report, input.functionality),
    analysis:
      input.analysis === null
        ? '(no analysis yet)'
        : dataSection(STEPS.analyze.report, input.analysis),
    verdict:
      input.verdict === null
        ? '(no verdict yet)'
        : dataSection(STEPS.validate.report, input.verdict),
  });
}

const oneLine = (text: string) => cleanText(text).replace(/\s+/g, ' ');

export function renderReview(input: ReviewInput, out: ReviewOutput): string {
  return [
    '## Non-convergence review',
    '',
    `The loop stopped before reaching a ${input.threshold}% pass rate: ${oneLine(input.stopReason)}.`,
    '',
    progressionTable(input.progression),
    '',
    '### Why it stalled',
    '',
    oneLine(out.why_it_stalled),
    '',
    ...out.evidence.map((e) => `- ${oneLine(e)}`),
    '',
    '### What a human should decide',
    '',
    ...out.decisions.flatMap((d, i) => [
      `${i + 1}. **${oneLine(d.question)}**`,
      ...d.options.map((o) => `   - *${oneLine(o.option)}* — ${oneLine(o.consequence)}`),
      `   - Recommendation: ${oneLine(d.recommendation)}`,
    ]),
  ].join('\n');
}

/** Asks a fresh reviewer why the loop stalled; returns a markdown section for report.md. */
export async function writeNonConvergenceReview(
  deps: Pick<ChainDeps, 'store' | 'model'>,
  request: ReviewRequest,
): Promise<string> {
  const input = await gatherReviewInput(deps.store, request);
  const out = await deps.model.call(
    'reviewer',
    await renderReviewPrompt(input),
    {
      schema: reviewOutput,
      toolName: 'report_non_convergence',
      toolDescription: 'Explain why the optimisation loop stalled and what a human should decide',
    },
    request.signal,
  );
  return renderReview(input, out);
}
