import { z } from 'zod';
import { renderFrontmatter } from '../../bench/frontmatter.js';
import { parseSkillMarkdown } from '../../bench/skill.js';
import { InvalidFileError, SkillOptimizerError } from '../../errors.js';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { assertNoHeldout, ductTapeFindings, readProbeLiterals } from '../candidate-scan.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  changedFiles,
  readSkillFiles,
  renderDiffFence,
  type SkillFile,
  unifiedDiff,
} from '../diff.js';
import { applyEdits, type EditContext, editProblems, skillEdit } from '../edits.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  readFunctionalityReport,
  readIntent,
  readSkill,
  readSubmissionsIfUpstream,
  type SkillSnapshot,
  skillSections,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import { type StepOutcome, StepRefusedError, type StepRun } from '../ports.js';
import { describeFinding, type LiteralFinding, scanText } from '../probe-literals.js';
import { proposalFrontmatter } from '../reports.js';
import { type AnalysedWeakness, readAnalysis } from './analyze.js';

/**
 * Everything step 8 may see: 07, 01, the current skill, 02 when upstream-bound, intent,
 * directives. No field for raw trials, graders, probe inputs, held-out data, 08 or 09.
 */
export interface ImproveInput {
  analysis: string;
  weaknesses: AnalysedWeakness[];
  functionality: string;
  submissions: string | null;
  skill: SkillSnapshot;
  intent: string;
  directives: string[];
}

/** The optimizer's proposal breaks a rule the operator checks; nothing is written. */
export class ProposalRejectedError extends SkillOptimizerError {}

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);

export const improveOutput = z.strictObject({
  addresses_weaknesses: z.array(slug).min(1).describe('Ids of the weaknesses from the analysis'),
  rationale: z.string().min(1).describe('Why this change addresses them as a general principle'),
  edits: z
    .array(skillEdit)
    .min(1)
    .max(50)
    .describe('The change, per file: exact replacements, or the whole content of a new file'),
  self_check: z
    .array(
      z.strictObject({
        would_not_item: z.string().min(1).describe('A "would NOT" item, copied exactly'),
        respected: z.boolean(),
        note: z.string().min(1),
      }),
    )
    .min(1),
});
export type ImproveOutput = z.infer<typeof improveOutput>;

export async function gatherImproveInput(
  store: RunStore,
  run: Pick<StepRun, 'state' | 'directives'>,
): Promise<ImproveInput> {
  const analysis = await readAnalysis(store);
  if (!analysis.data.has_structural_weakness) {
    throw new StepRefusedError(
      'step 8 has nothing to improve: the analysis (07) found no structural weakness',
    );
  }
  return {
    analysis: renderFrontmatter(analysis.data, analysis.body),
    weaknesses: analysis.weaknesses,
    functionality: await readFunctionalityReport(store),
    submissions: await readSubmissionsIfUpstream(store, run.state),
    skill: await readSkill(store),
    intent: await readIntent(store),
    directives: run.directives,
  };
}

export async function renderImprovePrompt(input: ImproveInput): Promise<RolePrompt> {
  const wouldNot = input.weaknesses
    .map((w) => [`${w.id}:`, ...w.wouldNot.map((item) => `- ${item}`)].join('\n'))
    .join('\n\n');
  const prompt = await renderRolePrompt('optimizer', {
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    functionality: dataSection(STEPS.functionality.report, input.functionality),
    analysis: dataSection(STEPS.analyze.report, input.analysis),
    would_not: dataSection('would-not-address', wouldNot),
    submissions:
      input.submissions === null
        ? '(not bound upstream)'
        : dataSection(STEPS.submissions.report, input.submissions),
    skill_copy: input.skill.copy,
    skill: skillSections(input.skill),
  });
  return { ...prompt, skills: [{ label: 'skill', skill: input.skill }] };
}

/** Repair turns the optimizer gets when its edits do not apply or break the skill. */
export const EDIT_REPAIRS = 2;

/**
 * Why the edits cannot become the proposal, one line each (empty when they can): they do not
 * apply to the current files, change nothing, or leave SKILL.md unparseable.
 */
export function proposalProblems(
  before: readonly SkillFile[],
  out: ImproveOutput,
  context: EditContext = {},
): string[] {
  const problems = editProblems(before, out.edits, context);
  if (problems.length > 0) return problems;
  const after = applyEdits(before, out.edits, context);
  const { written, deleted } = changedFiles(before, after);
  if (written.length === 0 && deleted.length === 0) {
    return ['the edits apply but change nothing in the skill'];
  }
  const skillMd = after.find((f) => f.path === 'SKILL.md');
  if (skillMd === undefined) return ['the skill has no SKILL.md'];
  try {
    parseSkillMarkdown(skillMd.content, 'SKILL.md after the edits');
  } catch (error) {
    if (!(error instanceof InvalidFileError)) throw error;
    return [`the edits break the skill: ${error.message}`];
  }
  return [];
}

/** Asks for the change; edits that do not apply go back to the optimizer, in its conversation. */
export async function askImprovement(
  model: ChainModel,
  input: ImproveInput,
  before: readonly SkillFile[],
  context: EditContext,
  signal?: AbortSignal,
): Promise<ImproveOutput> {
  return model.call(
    'optimizer',
    await renderImprovePrompt(input),
    {
      schema: improveOutput,
      toolName: 'propose_improvement',
      toolDescription: 'Propose one principled change to the skill as exact edits of its files',
      maxTokens: 16_384,
      validate: (out) => proposalProblems(before, out, context),
      repairs: EDIT_REPAIRS,
    },
    signal,
  );
}

/** Case, punctuation and spacing do not matter when matching a self-check to its item. */
const normalise = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

/** Every addressed id exists in 07, and every "would NOT" item of it is checked and respected. */
export function checkProposal(out: ImproveOutput, weaknesses: readonly AnalysedWeakness[]): void {
  const known = new Map(weaknesses.map((w) => [w.id, w]));
  const unknown = out.addresses_weaknesses.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ProposalRejectedError(
      `the proposal addresses ${unknown.map((id) => `'${id}'`).join(', ')}, which the analysis (07) does not list (it lists ${[...known.keys()].join(', ')})`,
    );
  }
  const checks = new Map(out.self_check.map((c) => [normalise(c.would_not_item), c]));
  const missing: string[] = [];
  const broken: string[] = [];
  for (const id of new Set(out.addresses_weaknesses)) {
    for (const item of known.get(id)?.wouldNot ?? []) {
      const check = checks.get(normalise(item));
      if (check === undefined) missing.push(`${id}: ${item}`);
      else if (!check.respected) broken.push(`${id}: ${item} (${check.note})`);
    }
  }
  if (missing.length > 0) {
    throw new ProposalRejectedError(
      `the proposal's self-check leaves out these "would NOT" items: ${missing.join('; ')}`,
    );
  }
  if (broken.length > 0) {
    throw new ProposalRejectedError(
      `the proposal does what the analysis says would NOT address the weakness: ${broken.join('; ')}`,
    );
  }
}

const cell = (text: string) => cleanText(text).replace(/\s+/g, ' ').replaceAll('|', '\\|');
/** Model prose with no line able to open a ```diff fence (which would confuse extractDiff). */
const prose = (text: string) => cleanText(text).replace(/^(\s*)`{3}/gm, '$1 ```');

function ductTapeSection(findings: readonly LiteralFinding[]): string[] {
  return [
    '## Probe literals in the added lines (found by the tool)',
    '',
    ...(findings.length === 0
      ? ['None.']
      : [
          'These strings come from visible probes; the validator is shown this list.',
          '',
          ...findings.map((f) => `- ${describeFinding(f)}`),
        ]),
    '',
  ];
}

function renderBody(
  out: ImproveOutput,
  diff: string,
  weaknesses: readonly AnalysedWeakness[],
  ductTape: readonly LiteralFinding[],
): string {
  const addressed = new Set(out.addresses_weaknesses);
  const rows = weaknesses
    .filter((w) => addressed.has(w.id))
    .flatMap((w) =>
      w.wouldNot.map((item) => {
        const check = out.self_check.find((c) => normalise(c.would_not_item) === normalise(item));
        return `| \`${w.id}\` | ${cell(item)} | ${check?.respected ? 'yes' : 'no'} | ${cell(check?.note ?? '')} |`;
      }),
    );
  return [
    '# Improvement proposal',
    '',
    `Addresses: ${[...addressed].map((id) => `\`${id}\``).join(', ')}`,
    '',
    '## Rationale',
    '',
    prose(out.rationale),
    '',
    '## Self-check against what would NOT address the weaknesses',
    '',
    '| weakness | would NOT address it | respected | note |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...ductTapeSection(ductTape),
    '## Diff',
    '',
    renderDiffFence(diff),
  ].join('\n');
}

function diffStats(diff: string): string {
  const lines = diff.split('\n');
  const added = lines.filter((l) => l.startsWith('+') && !l.startsWith('+++')).length;
  const removed = lines.filter((l) => l.startsWith('-') && !l.startsWith('---')).length;
  return `+${added} −${removed} lines`;
}

/** Step 8 (fresh): one principled change to the current skill, checked before it is written. */
export async function runImprove(run: StepRun): Promise<StepOutcome> {
  const { store } = run.deps;
  const input = await gatherImproveInput(store, run);
  const literals = await readProbeLiterals(store);
  // a 07 written or edited without the scan must not carry a held-out literal to the optimizer
  assertNoHeldout(
    STEPS.analyze.report,
    scanText(input.analysis, STEPS.analyze.report, literals),
    'skill-optimizer rerun analyze',
  );
  const before = await readSkillFiles(store, input.skill.copy);
  const text = new Set(before.map((f) => `${input.skill.copy}/${f.path}`));
  const binary = new Set(
    (await store.list(input.skill.copy))
      .filter((full) => !text.has(full))
      .map((full) => full.slice(input.skill.copy.length + 1)),
  );
  const out = await askImprovement(run.deps.model, input, before, { binary }, run.signal);
  checkProposal(out, input.weaknesses);
  // the structured call already sent these back for repair; a model port without it lands here
  const problems = proposalProblems(before, out, { binary });
  if (problems.length > 0) throw new ProposalRejectedError(problems.join('; '));
  const after = applyEdits(before, out.edits, { binary });
  const { written, deleted } = changedFiles(before, after);
  const diff = await unifiedDiff(before, after);

  const ids = [...new Set(out.addresses_weaknesses)];
  const ductTape = ductTapeFindings(diff, literals);
  const report = writeReport(
    STEPS.improve.report,
    proposalFrontmatter,
    { addresses_weaknesses: ids },
    renderBody(out, diff, input.weaknesses, ductTape),
    run.head,
  );
  // the report holds the rationale, the self-check and the whole diff
  assertNoHeldout(
    STEPS.improve.report,
    scanText(report.content, STEPS.improve.report, literals),
    'skill-optimizer rerun improve',
  );
  const tape =
    ductTape.length === 0
      ? ''
      : `; ${ductTape.length} duct-tape finding${ductTape.length === 1 ? '' : 's'}`;
  return {
    changes: [report],
    result: `addresses ${ids.join(', ')}; ${written.length + deleted.length} file(s), ${diffStats(diff)}${tape}`,
  };
}

export const IMPROVE_READS = [
  STEPS.analyze.report,
  STEPS.functionality.report,
  STEPS.submissions.report,
  RUN_FILES.vendored,
  RUN_FILES.improved,
  RUN_FILES.intent,
] as const;
