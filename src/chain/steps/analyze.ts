import { z } from 'zod';
import { trialRecordSchema } from '../../bench/results.js';
import { renderSummary } from '../../bench/summary.js';
import type { TranscriptMessage, TrialRecord } from '../../bench/types.js';
import { InvalidFileError } from '../../errors.js';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { parseYaml, validateParsed } from '../../text/yaml-file.js';
import { assertNoHeldout, readProbeLiterals } from '../candidate-scan.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  readIntent,
  readSkill,
  requireReport,
  type SkillSnapshot,
  skillSections,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import type { StepOutcome, StepRun } from '../ports.js';
import { scanText } from '../probe-literals.js';
import { analysisFrontmatter, benchFrontmatter, specFile } from '../reports.js';

/** One probe spec as the analyst may see it: the responsibility and non-held-out probe intents. */
export interface VisibleSpec {
  functionality: string;
  responsibility: string;
  probes: Array<{ id: string; intent: string }>;
}

/** A failed or error trial of a visible probe, transcript trimmed. */
export interface VisibleTrial {
  label: string;
  status: TrialRecord['status'];
  stopReason: TrialRecord['stop_reason'];
  /** The grader's score (0..1) when it gave one. */
  score: number | null;
  reasons: string[];
  error: string | null;
  transcript: string;
}

/**
 * Everything step 7 may see. Held-out probes and their results are filtered out while gathering;
 * there is no field for probe workspaces, graders, expected outputs or prior analyses.
 */
export interface AnalysisInput {
  /** The bench summary rendered from the visible (non-held-out) trials only. */
  summary: string;
  trials: VisibleTrial[];
  /** Failed trials left out for the transcript budget. */
  omittedTrials: number;
  specs: VisibleSpec[];
  skill: SkillSnapshot;
  intent: string;
  directives: string[];
}

const MAX_TRIAL_CHARS = 8_000;
const MAX_TRIALS_CHARS = 60_000;

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

/** Picked specs with at least one non-held-out probe, held-out probes removed; plus held-out ids. */
async function readSpecs(store: RunStore): Promise<{ specs: VisibleSpec[]; heldout: Set<string> }> {
  const specs: VisibleSpec[] = [];
  const heldout = new Set<string>();
  const paths = (await store.list(RUN_FILES.tests)).filter((p) =>
    /^tests\/[^/]+\/spec\.yaml$/.test(p),
  );
  for (const path of paths) {
    const file = `${store.runDir}/${path}`;
    const spec = validateParsed(specFile, parseYaml((await store.read(path)) ?? '', file), file);
    for (const p of spec.probes) if (p.heldout) heldout.add(`${spec.functionality}/${p.id}`);
    const visible = spec.probes.filter((p) => !p.heldout);
    if (!spec.picked || visible.length === 0) continue;
    specs.push({
      functionality: spec.functionality,
      responsibility: spec.responsibility,
      probes: visible.map((p) => ({ id: `${spec.functionality}/${p.id}`, intent: p.intent })),
    });
  }
  return { specs, heldout };
}

async function readTrials(store: RunStore, resultsDir: string): Promise<TrialRecord[]> {
  const path = `${resultsDir}/results.jsonl`;
  const file = `${store.runDir}/${path}`;
  const text = await store.read(path);
  if (text === null) throw new InvalidFileError(file, 'missing; run step 6 (bench) again');
  const records: TrialRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidFileError(
        `${file}:${i + 1}`,
        `not a JSON line (${(error as Error).message})`,
      );
    }
    const parsed = trialRecordSchema.safeParse(value);
    if (!parsed.success) {
      throw new InvalidFileError(`${file}:${i + 1}`, parsed.error.issues[0]?.message ?? 'invalid');
    }
    records.push(parsed.data);
  }
  return records;
}

const MAX_BLOCK_CHARS = 1_500;

const cut = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)} […${text.length - max} chars cut]` : text;

function blockText(block: Record<string, unknown>): string {
  if (block.type === 'text' && typeof block.text === 'string') return block.text;
  if (block.type === 'tool_use') {
    return `→ tool ${String(block.name)}(${JSON.stringify(block.input ?? {})})`;
  }
  if (block.type === 'tool_result') {
    const content = block.content;
    const text = Array.isArray(content)
      ? content.map((c) => blockText(c as Record<string, unknown>)).join('\n')
      : String(content ?? '');
    return `← result${block.is_error === true ? ' (error)' : ''}: ${text}`;
  }
  return JSON.stringify(block);
}

/** A transcript as plain text; a long one keeps its start (the task) and its end (the outcome). */
export function renderTranscript(
  messages: readonly TranscriptMessage[],
  finalMessage: string,
  max: number,
): string {
  const lines = messages.map((m) => {
    const parts = typeof m.content === 'string' ? [m.content] : m.content.map((b) => blockText(b));
    return `[${m.role}] ${parts.map((p) => cut(p, MAX_BLOCK_CHARS)).join('\n')}`;
  });
  lines.push(`[final message] ${cut(finalMessage, MAX_BLOCK_CHARS)}`);
  const text = lines.join('\n');
  if (text.length <= max) return text;
  const head = Math.floor(max / 4);
  const tail = max - head;
  return `${text.slice(0, head)}\n[… ${text.length - max} chars of the transcript cut …]\n${text.slice(-tail)}`;
}

/** Failed/error trials with the skill, first trials of every probe first, within the budget. */
function pickTrials(records: readonly TrialRecord[]): { trials: VisibleTrial[]; omitted: number } {
  const failed = records
    .filter((r) => !r.baseline && r.status !== 'pass')
    .sort(
      (a, b) =>
        a.trial - b.trial ||
        (a.probe < b.probe ? -1 : a.probe > b.probe ? 1 : 0) ||
        (a.model < b.model ? -1 : a.model > b.model ? 1 : 0),
    );
  const trials: VisibleTrial[] = [];
  let used = 0;
  for (const r of failed) {
    const transcript = renderTranscript(r.transcript, r.finalMessage, MAX_TRIAL_CHARS);
    if (used + transcript.length > MAX_TRIALS_CHARS) break;
    used += transcript.length;
    trials.push({
      label: `${r.probe} · ${r.model} · trial ${r.trial}`,
      status: r.status,
      stopReason: r.stop_reason,
      score: r.grader?.score ?? null,
      reasons: r.grader?.reasons ?? [],
      error: r.error,
      transcript,
    });
  }
  return { trials, omitted: failed.length - trials.length };
}

export async function gatherAnalysisInput(
  store: RunStore,
  run: Pick<StepRun, 'directives'>,
): Promise<AnalysisInput> {
  const bench = await requireReport(store, STEPS.bench.report, benchFrontmatter, '6 (bench)');
  const { specs, heldout } = await readSpecs(store);
  // The kept skill's trials: after a discarded candidate, its bench is not the one to analyse.
  const keptDir = bench.data.kept_results_dir ?? bench.data.results_dir;
  const visible = (await readTrials(store, keptDir)).filter(
    (r) => !r.heldout && !heldout.has(r.probe),
  );
  const { trials, omitted } = pickTrials(visible);
  return {
    summary: renderSummary({
      title: 'Bench results of the kept skill (held-out probes left out)',
      records: visible,
    }),
    trials,
    omittedTrials: omitted,
    specs,
    skill: await readSkill(store),
    intent: await readIntent(store),
    directives: run.directives,
  };
}

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
