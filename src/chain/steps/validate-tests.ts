import { z } from 'zod';
import type { SmokeReport } from '../../bench/grader.js';
import { mapBounded } from '../../bench/pool.js';
import { suiteFileSchema } from '../../bench/suite.js';
import { InvalidFileError } from '../../errors.js';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { parseYaml, validateParsed } from '../../text/yaml-file.js';
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
import { parseProbeDirective, probeDirective } from '../probe-directive.js';
import { testsVerdictFrontmatter } from '../reports.js';
import { probeDir } from '../specs.js';
import type { ChainState } from '../state.js';
import { functionalitySection, readFolderTexts, readFunctionalityReport } from '../test-inputs.js';

/**
 * Step 5 (fresh): every probe of tests/suite.yml gets the operator's grader smoke check and a
 * fresh validator that sees only that probe's folder, 01 and the vendored skill. A probe is
 * approved when both pass; each rejection becomes a directive for step 4.
 */

/** tests/suite.yml as step 5 needs it: the probe ids and the graders' dependencies. */
export async function readSuiteFile(
  store: RunStore,
): Promise<{ probes: string[]; graderDependencies: Record<string, string> }> {
  const file = `${store.runDir}/${RUN_FILES.suite}`;
  const text = await store.read(RUN_FILES.suite);
  if (text === null) throw new InvalidFileError(file, 'missing; run step write-tests first');
  const suite = validateParsed(suiteFileSchema, parseYaml(text, file), file);
  return {
    probes: suite.probes.map((p) => p.replace(/\/+$/, '')),
    graderDependencies: suite.grader_dependencies ?? {},
  };
}

/** Everything one validator may see: no field for other probes, specs or prior verdicts. */
export interface ValidateProbeInput {
  functionality: string;
  intent: string;
  skill: SkillSnapshot;
  directives: string[];
  probe: { id: string; files: Array<{ path: string; content: string }> };
}

export async function gatherValidateProbeInputs(
  store: RunStore,
  probeIds: readonly string[],
  directives: readonly string[],
): Promise<ValidateProbeInput[]> {
  // Every read is issued at once: the store answers them in one pipelined round trip.
  const [functionality, skill, intent, folders] = await Promise.all([
    readFunctionalityReport(store),
    readSkill(store, 'vendored-skill'),
    readIntent(store),
    Promise.all(probeIds.map((id) => readFolderTexts(store, probeDir(id)))),
  ]);
  return probeIds.map((id, i) => ({
    functionality,
    intent,
    skill,
    directives: [...directives],
    probe: { id, files: folders[i] ?? [] },
  }));
}

export async function renderValidateProbePrompt(input: ValidateProbeInput): Promise<RolePrompt> {
  const prompt = await renderRolePrompt('test-validator', {
    functionality: functionalitySection(input.functionality),
    run_intent: intentSection(input.intent),
    skill: skillSections(input.skill),
    directives: directivesSection(input.directives),
    probe_id: input.probe.id,
    probe_files:
      input.probe.files.length === 0
        ? '(the probe folder is empty)'
        : input.probe.files.map((f) => dataSection(`probe/${f.path}`, f.content)).join('\n\n'),
  });
  return { ...prompt, skills: [{ label: 'skill', skill: input.skill }] };
}

export const CHECKS = [
  'tests_the_intent',
  'prompt_is_realistic',
  'workspace_is_sufficient',
  'grader_is_fair',
  'not_trivially_passable',
  'grader_is_robust',
  'smoke_fixtures_are_meaningful',
  'measures_the_job_not_the_wording',
] as const;

export const validatorOutput = z.strictObject({
  checks: z.strictObject(
    Object.fromEntries(CHECKS.map((c) => [c, z.boolean()])) as Record<
      (typeof CHECKS)[number],
      z.ZodBoolean
    >,
  ),
  verdict: z.enum(['approved', 'rejected']),
  reasons: z.array(z.string().min(1)).min(1).describe('Concrete: what is wrong and how to fix it'),
});
export type ValidatorOutput = z.infer<typeof validatorOutput>;

export async function askValidator(
  model: ChainModel,
  input: ValidateProbeInput,
  signal?: AbortSignal,
): Promise<ValidatorOutput> {
  return model.call(
    'test-validator',
    await renderValidateProbePrompt(input),
    {
      schema: validatorOutput,
      toolName: 'review_probe',
      toolDescription: 'Report the checks and the verdict on this probe',
    },
    signal,
  );
}

export interface ProbeVerdict {
  id: string;
  approved: boolean;
  smoke: SmokeReport;
  review: ValidatorOutput;
  failedChecks: string[];
}

/** Approved iff the smoke check passed, the validator approved and every check it gave holds. */
export function judgeProbe(id: string, smoke: SmokeReport, review: ValidatorOutput): ProbeVerdict {
  const failedChecks = CHECKS.filter((c) => !review.checks[c]);
  const approved = smoke.ok && review.verdict === 'approved' && failedChecks.length === 0;
  return { id, approved, smoke, review, failedChecks };
}

/** What the next writer of a rejected probe is told. */
function rejectionReasons(v: ProbeVerdict): string[] {
  return [
    ...v.smoke.reasons.map((r) => `smoke check: ${r}`),
    ...(v.failedChecks.length > 0 ? [`failed checks: ${v.failedChecks.join(', ')}`] : []),
    ...v.review.reasons.map(cleanText),
  ];
}

function renderBody(verdicts: ProbeVerdict[]): string {
  const approved = verdicts.filter((v) => v.approved).length;
  const rows = verdicts.map(
    (v) =>
      `| \`${v.id}\` | ${v.smoke.ok ? 'ok' : 'failed'} | ${v.review.verdict} | **${v.approved ? 'approved' : 'rejected'}** |`,
  );
  const sections = verdicts.flatMap((v) => [
    `## \`${v.id}\`: ${v.approved ? 'approved' : 'rejected'}`,
    '',
    v.smoke.ok
      ? 'Smoke check: the grader passes smoke/good and fails smoke/bad and smoke/empty.'
      : 'Smoke check failed:',
    ...v.smoke.reasons.map((r) => `- ${cleanText(r)}`),
    '',
    `Validator: ${v.review.verdict}${v.failedChecks.length > 0 ? `; failed checks: ${v.failedChecks.join(', ')}` : '; every check holds'}.`,
    '',
    ...v.review.reasons.map((r) => `- ${cleanText(r).replace(/\s+/g, ' ')}`),
    '',
  ]);
  return [
    '# Test verdicts',
    '',
    `${approved} of ${verdicts.length} probes approved.${approved < verdicts.length ? ' Each rejected probe goes back to step 4 (write-tests) with the reasons below as its directive.' : ''}`,
    '',
    '| probe | smoke | validator | verdict |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...sections,
  ].join('\n');
}

/**
 * The state after a round: this round's verdicts replace earlier rejection directives for the
 * same probes; each rejected probe gets one; a fully approved round resets the rejected count.
 */
export function applyVerdictsToState(state: ChainState, verdicts: ProbeVerdict[]): ChainState {
  const judged = new Set(verdicts.map((v) => v.id));
  const others = (state.directives['write-tests'] ?? []).filter((d) => {
    const aimed = parseProbeDirective(d);
    return aimed === null || !judged.has(aimed.id);
  });
  const rejected = verdicts.filter((v) => !v.approved);
  const next = [...others, ...rejected.map((v) => probeDirective(v.id, rejectionReasons(v)))];
  const { 'write-tests': _old, ...rest } = state.directives;
  return {
    ...state,
    directives: next.length > 0 ? { ...rest, 'write-tests': next } : rest,
    rejected_rounds: rejected.length > 0 ? state.rejected_rounds + 1 : 0,
  };
}

/** Step 5 (fresh): smoke-check and review every probe of the suite in parallel. */
export async function runValidateTests(run: StepRun): Promise<StepOutcome> {
  const { store, bench, model, config } = run.deps;
  const { probes: ids, graderDependencies } = await readSuiteFile(store);
  const inputs = await gatherValidateProbeInputs(store, ids, run.directives);
  const verdicts = await mapBounded(inputs, config.concurrency, async (input) => {
    const dir = probeDir(input.probe.id);
    const smoke = await bench.smoke({
      id: input.probe.id,
      dir: store.absolutePath(dir),
      graderPath: store.absolutePath(`${dir}/grader.mjs`),
      graderDependencies,
    });
    return judgeProbe(input.probe.id, smoke, await askValidator(model, input, run.signal));
  });

  const approved = verdicts.filter((v) => v.approved).length;
  const all = approved === verdicts.length;
  return {
    changes: [
      writeReport(
        STEPS['validate-tests'].report,
        testsVerdictFrontmatter,
        {
          all_probes_approved: all,
          probes: Object.fromEntries(
            verdicts.map((v) => [v.id, v.approved ? 'approved' : 'rejected'] as const),
          ),
        },
        renderBody(verdicts),
        run.head,
      ),
    ],
    result: all
      ? `all ${verdicts.length} probes approved`
      : `${approved} of ${verdicts.length} probes approved, ${verdicts.length - approved} sent back to write-tests`,
    update: (state) => applyVerdictsToState(state, verdicts),
  };
}

/** Direct inputs for staleness. */
export const VALIDATE_TESTS_READS = [
  RUN_FILES.tests,
  STEPS.functionality.report,
  RUN_FILES.vendored,
] as const;
