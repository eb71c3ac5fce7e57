import { z } from 'zod';
import { benchPlanLine } from '../chain/bench-plan.js';
import { STEP_IDS, STEPS, type StepId } from '../chain/catalog.js';
import { type ChainState, chainStateSchema, GATE_IDS } from '../chain/state.js';
import { safeRelativePath } from '../config/schema.js';
import { codeSpan } from '../text/escape-markdown.js';
import { escapeInline } from './markdown.js';
import { ROOT_FOLDER } from './skills.js';

/**
 * The chain PR body (docs/chain.md "Progress"): a live checklist with one line per step, the cost so
 * far, a hidden marker that finds the body again, and a hidden state block the App reads back to
 * answer `/optimize status` and to check that an approval is for the commit the gate asked about.
 *
 * The body is editable by anyone with write access, so the state block is validated on the way
 * back in (anything that does not match the schema exactly reads as null), and every value
 * written into the body is escaped so it cannot end the HTML comment or inject markup.
 */

export const TRACKER_MARKER = '<!-- skill-optimizer:tracker -->';
const STATE_OPEN = '<!-- skill-optimizer:state ';
const STATE_CLOSE = ' -->';
const STATE_BLOCK = /<!-- skill-optimizer:state ([\s\S]*?) -->/g;

/** A GitHub login: a user's (39 characters at most) or an app's `<slug>[bot]`. */
export const loginSchema = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/);
const skillPath = z.union([z.literal(ROOT_FOLDER), safeRelativePath.pipe(z.string().max(500))]);
const commitSha = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/);

/** The skill PR's check run a job left its result on, and the skill PR head it is attached to. */
export const trackerCheckRunSchema = z.strictObject({
  id: z.int().min(1),
  head_sha: commitSha,
});
export type TrackerCheckRun = z.infer<typeof trackerCheckRunSchema>;

export const trackerStateSchema = z.strictObject({
  v: z.literal(1),
  slug: z
    .string()
    .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/)
    .max(100),
  skill_path: skillPath,
  skill_pr: z.int().min(1),
  status: chainStateSchema.shape.status,
  open_gate: z.enum(GATE_IDS).nullable(),
  /** The step the open gate belongs to (a "request changes" review re-runs it). */
  gate_step: z.enum(STEP_IDS).nullable(),
  /** The work branch head the open gate asked about; approvals count only for this commit. */
  pinned_sha: commitSha.nullable(),
  triggered_by: loginSchema,
  /**
   * The check run the last job updated: the next job of the run updates it again instead of
   * creating one while the skill PR's head is still `head_sha` (absent from older bodies).
   */
  check_run: trackerCheckRunSchema.optional(),
});
export type TrackerState = z.infer<typeof trackerStateSchema>;

export type StepStatus = 'pending' | 'running' | 'done' | 'gate' | 'failed' | 'skipped';

export interface StepLine {
  step: StepId;
  status: StepStatus;
  detail: string | null;
}

export interface TrackerExtra {
  skillPr: number;
  triggeredBy: string;
  /** The work branch head when the open gate was asked; null when no gate is open. */
  pinnedSha: string | null;
  /** One-line results of completed steps (from their commit messages). */
  results: Partial<Record<StepId, string>>;
  /** The step the current job is running, if any. */
  running: StepId | null;
  /** How far the running step has got (step 6: trials done of total, passes, cost). */
  runningDetail?: string | null;
  /** The skill PR's check run this job reports on, recorded for the run's next job. */
  checkRun?: TrackerCheckRun | null;
}

export function stepLines(chain: ChainState, extra: TrackerExtra): StepLine[] {
  return STEP_IDS.map((step): StepLine => {
    const gate = chain.open_gate;
    if (gate !== null && gate.step === step) {
      return { step, status: 'gate', detail: `gate ${gate.id}: ${gate.question}` };
    }
    if (extra.running === step) {
      return { step, status: 'running', detail: extra.runningDetail ?? null };
    }
    // Step 06 fanned out: its shard jobs are running, then the merge job resumes the chain.
    if (step === 'bench' && chain.bench_plan !== null) {
      return { step, status: 'running', detail: benchPlanLine(chain.bench_plan) };
    }
    if (chain.last_error !== null && chain.last_error.step === step) {
      return { step, status: 'failed', detail: chain.last_error.message };
    }
    const result = extra.results[step];
    if (result !== undefined) return { step, status: 'done', detail: result };
    if (step === 'submissions' && chain.upstream === false) {
      return { step, status: 'skipped', detail: 'not upstream-bound' };
    }
    return { step, status: 'pending', detail: null };
  });
}

const BOX: Record<StepStatus, string> = {
  pending: '- [ ]',
  running: '- [ ]',
  done: '- [x]',
  gate: '- [ ]',
  failed: '- [ ]',
  skipped: '- [x]',
};

const WORD: Record<StepStatus, string> = {
  pending: 'pending',
  running: '**running**',
  done: 'done',
  gate: '**waiting at gate**',
  failed: '**failed**',
  skipped: 'skipped',
};

function renderLine(line: StepLine): string {
  const info = STEPS[line.step];
  const number = String(info.number).padStart(2, '0');
  const detail = line.detail === null ? '' : ` — ${escapeInline(line.detail)}`;
  return `${BOX[line.status]} ${number} ${info.id}: ${WORD[line.status]}${detail}`;
}

/** JSON that cannot end the HTML comment it sits in (`>` and `<` are written as \u escapes). */
function commentSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

export function trackerState(chain: ChainState, extra: TrackerExtra): TrackerState {
  return trackerStateSchema.parse({
    v: 1,
    slug: chain.slug,
    skill_path: chain.skill_path === '' ? ROOT_FOLDER : chain.skill_path,
    skill_pr: extra.skillPr,
    status: chain.status,
    open_gate: chain.open_gate?.id ?? null,
    gate_step: chain.open_gate?.step ?? null,
    pinned_sha: chain.open_gate === null ? null : extra.pinnedSha,
    triggered_by: extra.triggeredBy,
    ...(extra.checkRun ? { check_run: extra.checkRun } : {}),
  });
}

function statusLine(chain: ChainState): string {
  const mode = chain.autopilot ? ' (autopilot)' : '';
  const reason = chain.stop_reason === null ? '' : ` — ${escapeInline(chain.stop_reason)}`;
  return `**Status:** ${chain.status}${mode}${reason}`;
}

/** The whole chain PR body. */
export function renderTracker(chain: ChainState, extra: TrackerExtra): string {
  const state = trackerState(chain, extra);
  const u = chain.usage;
  const tokens =
    u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  return [
    TRACKER_MARKER,
    `## Skill Optimizer: ${codeSpan(state.skill_path)}`,
    '',
    `Run \`${state.slug}\` for #${state.skill_pr}, started by @${state.triggered_by}. This pull request is a review surface for the reports; it is never merged.`,
    '',
    statusLine(chain),
    '',
    ...stepLines(chain, extra).map(renderLine),
    '',
    `**Cost so far:** $${chain.cost_usd.toFixed(2)} (${tokens.toLocaleString('en-US')} tokens)`,
    '',
    `${STATE_OPEN}${commentSafeJson(state)}${STATE_CLOSE}`,
    '',
  ].join('\n');
}

/** The state block of a chain PR body; null when absent, repeated, malformed or tampered with. */
export function parseTrackerState(body: string | null | undefined): TrackerState | null {
  if (typeof body !== 'string') return null;
  const blocks = [...body.matchAll(STATE_BLOCK)];
  if (blocks.length !== 1) return null;
  const json = blocks[0]?.[1] ?? '';
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  const parsed = trackerStateSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
