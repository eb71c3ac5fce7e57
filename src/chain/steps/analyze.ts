import { z } from 'zod';
import { InvalidFileError } from '../../errors.js';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { type AnalysisInput, gatherAnalysisInput, type VisibleSpec } from '../analysis-input.js';
import { assertNoHeldout, readProbeLiterals } from '../candidate-scan.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  requireReport,
  skillSections,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import type { StepOutcome, StepRun } from '../ports.js';
import { scanText } from '../probe-literals.js';
import { analysisFrontmatter } from '../reports.js';

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
  .describe('kebab-case id');

export const weaknessSchema = z.strictObject({
  id: slug,
  pattern: z.string().min(1).describe('What goes wrong, seen across trials'),
  evidence: z
    .array(z.string().min(1))
    .min(1)
    .describe('Trials that show it (probe · model · trial) and what happened in each'),
  hypothesised_cause: z.string().min(1).describe('Why the skill leads the agent there'),
  skill_section: z
    .string()
    .min(1)
    .describe('The heading or file of the skill responsible, or "missing"'),
  would_address: z
    .string()
    .min(1)
    .describe('A general principle that would fix this on every task of the kind'),
  would_not_address: z
    .array(z.string().min(1))
    .min(1)
    .describe('Duct-tape fixes that would only chase these probes; each checkable'),
});
export type Weakness = z.infer<typeof weaknessSchema>;

export const analysisOutput = z
  .strictObject({
    summary: z.string().min(1).describe('What the bench shows, in a few sentences'),
    has_structural_weakness: z.boolean(),
    weaknesses: z.array(weaknessSchema).max(8),
  })
  .superRefine((out, ctx) => {
    if (out.has_structural_weakness !== out.weaknesses.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['weaknesses'],
        message: 'list weaknesses exactly when has_structural_weakness is true',
      });
    }
    const ids = out.weaknesses.map((w) => w.id);
    if (new Set(ids).size !== ids.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['weaknesses'],
        message: 'weakness ids must be unique',
      });
    }
  });
export type AnalysisOutput = z.infer<typeof analysisOutput>;

function specsText(specs: readonly VisibleSpec[]): string {
  if (specs.length === 0) return '(no probe specs)';
  const text = specs
    .map((s) =>
      [
        `functionality ${s.functionality}: ${s.responsibility}`,
        ...s.probes.map((p) => `  - probe ${p.id}: ${p.intent}`),
      ].join('\n'),
    )
    .join('\n\n');
  return dataSection('probe-specs', text);
}

function trialsText(input: AnalysisInput): string {
  if (input.trials.length === 0) return '(no failed or error trials)';
  const sections = input.trials.map((t) =>
    dataSection(
      `trial ${t.label}`,
      [
        `status: ${t.status} (stop: ${t.stopReason})${t.score === null ? '' : `, grader score ${t.score}`}`,
        ...(t.error === null ? [] : [`error: ${t.error}`]),
        `grader reasons: ${t.reasons.length === 0 ? '(none)' : ''}`,
        ...t.reasons.map((r) => `- ${r}`),
        '',
        t.transcript,
      ].join('\n'),
    ),
  );
  if (input.omittedTrials > 0) {
    sections.push(`(${input.omittedTrials} more failed trials left out for length)`);
  }
  return sections.join('\n\n');
}

export async function renderAnalysisPrompt(input: AnalysisInput): Promise<RolePrompt> {
  const prompt = await renderRolePrompt('analyst', {
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    specs: specsText(input.specs),
    summary: dataSection('bench-summary', input.summary),
    trials: trialsText(input),
    skill_copy: input.skill.copy,
    skill: skillSections(input.skill),
  });
  return { ...prompt, skills: [{ label: 'skill', skill: input.skill }] };
}

export async function askAnalysis(
  model: ChainModel,
  input: AnalysisInput,
  signal?: AbortSignal,
): Promise<AnalysisOutput> {
  return model.call(
    'analyst',
    await renderAnalysisPrompt(input),
    {
      schema: analysisOutput,
      toolName: 'report_analysis',
      toolDescription: "Report the skill's structural weaknesses behind the bench failures",
    },
    signal,
  );
}

const oneLine = (text: string) => cleanText(text).replace(/\s+/g, ' ');
const WEAKNESS_HEADING = /^## Weakness `([a-z0-9][a-z0-9-]*)`$/;
const WOULD_NOT_HEADING = '**Would NOT address it (duct tape):**';

function renderWeakness(w: Weakness): string {
  return [
    `## Weakness \`${w.id}\``,
    '',
    `- **Pattern:** ${oneLine(w.pattern)}`,
    `- **Hypothesised cause:** ${oneLine(w.hypothesised_cause)}`,
    `- **Skill section:** ${oneLine(w.skill_section)}`,
    `- **Evidence:** ${w.evidence.map(oneLine).join('; ')}`,
    '',
    `**Would address it (general principle):** ${oneLine(w.would_address)}`,
    '',
    WOULD_NOT_HEADING,
    ...w.would_not_address.map((item) => `- ${oneLine(item)}`),
  ].join('\n');
}

/** A weakness as later steps read it back from 07's body. */
export interface AnalysedWeakness {
  id: string;
  wouldNot: string[];
}

/** The weaknesses and their "would NOT" items, read back from a 07 body. */
export function parseAnalysisBody(body: string): AnalysedWeakness[] {
  const found: AnalysedWeakness[] = [];
  let current: AnalysedWeakness | null = null;
  let inList = false;
  for (const line of body.split(/\r?\n/)) {
    const heading = WEAKNESS_HEADING.exec(line.trim());
    if (heading?.[1] !== undefined) {
      current = { id: heading[1], wouldNot: [] };
      found.push(current);
      inList = false;
    } else if (line.startsWith('#')) {
      current = null;
    } else if (current !== null && line.trim() === WOULD_NOT_HEADING) {
      inList = true;
    } else if (current !== null && inList && line.startsWith('- ')) {
      current.wouldNot.push(line.slice(2).trim());
    } else if (inList && line.trim() !== '') {
      inList = false;
    }
  }
  return found;
}

/** 07 with its weaknesses; each weakness the frontmatter names must be described in the body. */
export async function readAnalysis(store: RunStore) {
  const report = await requireReport(
    store,
    STEPS.analyze.report,
    analysisFrontmatter,
    '7 (analyze)',
  );
  const described = parseAnalysisBody(report.body);
  const weaknesses = report.data.weaknesses.map((id) => {
    const w = described.find((d) => d.id === id);
    if (w === undefined || w.wouldNot.length === 0) {
      throw new InvalidFileError(
        `${store.runDir}/${STEPS.analyze.report}`,
        `weakness '${id}' has no "## Weakness \`${id}\`" section listing what would NOT address it; run step 7 again`,
      );
    }
    return w;
  });
  return { ...report, weaknesses };
}

/** Step 7 (fresh): the skill's structural weaknesses behind the visible bench failures. */
export async function runAnalyze(run: StepRun): Promise<StepOutcome> {
  const input = await gatherAnalysisInput(run.deps.store, run);
  const out = await askAnalysis(run.deps.model, input, run.signal);
  const ids = out.weaknesses.map((w) => w.id);
  const body = [
    '# Analysis',
    '',
    oneLine(out.summary),
    '',
    ...(out.has_structural_weakness
      ? out.weaknesses.map((w) => `${renderWeakness(w)}\n`)
      : ['No structural weakness of the skill explains the failures.', '']),
  ].join('\n');
  const report = writeReport(
    STEPS.analyze.report,
    analysisFrontmatter,
    { has_structural_weakness: out.has_structural_weakness, weaknesses: ids },
    body,
    run.head,
  );
  // steps 8 and 9 read 07: nothing of a held-out probe may pass through it
  const literals = await readProbeLiterals(run.deps.store);
  assertNoHeldout(
    STEPS.analyze.report,
    scanText(report.content, STEPS.analyze.report, literals),
    'skill-optimizer rerun analyze',
  );
  return {
    changes: [report],
    result: out.has_structural_weakness
      ? `${ids.length} structural weakness${ids.length === 1 ? '' : 'es'}: ${ids.join(', ')}`
      : 'no structural weakness',
    // Each analysis's weaknesses, so the report can say what was resolved, is still open or is new.
    update: (state) => ({
      ...state,
      analyses: [...state.analyses, { after_bench: state.benches.length - 1, weaknesses: ids }],
    }),
  };
}

export const ANALYZE_READS = [
  STEPS.bench.report,
  RUN_FILES.tests,
  RUN_FILES.vendored,
  RUN_FILES.improved,
  RUN_FILES.intent,
] as const;
