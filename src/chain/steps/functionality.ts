import { z } from 'zod';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  readIntent,
  readSkill,
  type SkillSnapshot,
  skillSections,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import type { StepOutcome, StepRun } from '../ports.js';
import { classificationSchema, functionalityFrontmatter } from '../reports.js';
import { detectWrapper } from '../wrapper.js';

/** Everything step 1 may see: the vendored skill, its source location, intent, directives. */
export interface FunctionalityInput {
  skill: SkillSnapshot;
  skillSource: string;
  intent: string;
  directives: string[];
}

export const functionalityOutput = z.strictObject({
  skill_name: z.string().min(1),
  classification: classificationSchema,
  summary: z.string().min(1).describe('Two to four sentences: what the skill is for and for whom'),
  responsibilities: z
    .array(
      z.strictObject({
        id: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]*$/)
          .describe('kebab-case id'),
        title: z.string().min(1),
        description: z.string().min(1).describe('What an agent must be able to do, checkably'),
      }),
    )
    .min(1)
    .max(12),
  pr_submission_intent: z.boolean(),
  pr_submission_reason: z.string().min(1),
  likely_wrapper: z.boolean(),
  wrapper_points_to: z.string().nullable(),
});
export type FunctionalityOutput = z.infer<typeof functionalityOutput>;

export async function gatherFunctionalityInput(
  store: RunStore,
  run: Pick<StepRun, 'state' | 'directives'>,
): Promise<FunctionalityInput> {
  return {
    skill: await readSkill(store, 'vendored-skill'),
    skillSource: `${run.state.skill_path} @ ${run.state.source_commit.slice(0, 12)}`,
    intent: await readIntent(store),
    directives: run.directives,
  };
}

export async function renderFunctionalityPrompt(input: FunctionalityInput): Promise<RolePrompt> {
  const hint = detectWrapper(input.skill);
  const prompt = await renderRolePrompt('functionality', {
    skill_source: dataSection('skill-source', input.skillSource),
    wrapper_hint: hint.likely
      ? dataSection(
          'operator-wrapper-check',
          ['likely a wrapper:', ...hint.evidence.map((e) => `- ${e}`)].join('\n'),
        )
      : '(no sign of a wrapper)',
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    skill: skillSections(input.skill),
  });
  return { ...prompt, skills: [{ label: 'skill', skill: input.skill }] };
}

export async function askFunctionality(
  model: ChainModel,
  input: FunctionalityInput,
  signal?: AbortSignal,
): Promise<FunctionalityOutput> {
  return model.call(
    'functionality',
    await renderFunctionalityPrompt(input),
    {
      schema: functionalityOutput,
      toolName: 'report_functionality',
      toolDescription: "Report the skill's responsibilities, classification and flags",
    },
    signal,
  );
}

/** Step 1 (fresh): what the skill is for, its classification, upstream intent, wrapper check. */
export async function runFunctionality(run: StepRun): Promise<StepOutcome> {
  const input = await gatherFunctionalityInput(run.deps.store, run);
  const out = await askFunctionality(run.deps.model, input, run.signal);
  const hint = detectWrapper(input.skill);
  const likelyWrapper = out.likely_wrapper || hint.likely;
  // The model read a sanitised skill but may still echo markup: the report, the gate and the
  // re-vendored path get the pointer cleaned.
  const pointsTo =
    (out.wrapper_points_to === null ? '' : cleanText(out.wrapper_points_to)) || hint.pointsTo;

  const body = [
    `# Functionality of \`${cleanText(out.skill_name)}\``,
    '',
    cleanText(out.summary),
    '',
    '## Responsibilities',
    '',
    ...out.responsibilities.map(
      (r) => `- **${r.id}** — ${cleanText(r.title)}: ${cleanText(r.description)}`,
    ),
    '',
    '## Upstream submission',
    '',
    `${out.pr_submission_intent ? 'Bound for an upstream PR' : 'Not bound upstream'}: ${cleanText(out.pr_submission_reason)}`,
    ...(likelyWrapper
      ? [
          '',
          '## Wrapper',
          '',
          `This SKILL.md looks like a thin pointer to \`${pointsTo ?? 'unknown'}\`.`,
          ...hint.evidence.map((e) => `- ${e}`),
        ]
      : []),
  ].join('\n');

  return {
    changes: [
      writeReport(
        STEPS.functionality.report,
        functionalityFrontmatter,
        {
          skill_name: out.skill_name,
          skill_source: input.skillSource,
          classification: out.classification,
          pr_submission_intent: out.pr_submission_intent,
          likely_wrapper: likelyWrapper,
          wrapper_points_to: likelyWrapper ? (pointsTo ?? null) : null,
        },
        body,
        run.head,
      ),
    ],
    result: `${out.responsibilities.length} responsibilities, ${out.classification}${likelyWrapper ? ', likely a wrapper' : ''}${out.pr_submission_intent ? ', upstream-bound' : ''}`,
  };
}

export const FUNCTIONALITY_READS = [RUN_FILES.vendored, RUN_FILES.intent] as const;
