import { trialRecordSchema } from '../bench/results.js';
import { renderSummary } from '../bench/summary.js';
import type { TranscriptMessage, TrialRecord } from '../bench/types.js';
import { InvalidFileError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { parseYaml, validateParsed } from '../text/yaml-file.js';
import { RUN_FILES, STEPS } from './catalog.js';
import { readIntent, readSkill, requireReport, type SkillSnapshot } from './inputs.js';
import type { StepRun } from './ports.js';
import { benchFrontmatter, specFile } from './reports.js';

/**
 * What step 7 (analyse) may read of a run: the picked specs and the kept skill's failed trials
 * with their transcripts rendered as text, held-out probes filtered out. The step itself, its
 * prompt and its report are in steps/analyze.ts.
 */

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
