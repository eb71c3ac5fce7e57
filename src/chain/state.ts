import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { InvalidFileError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { RUN_FILES, STEP_IDS, type StepId } from './catalog.js';

/**
 * The driver's own state (`chain.yml` in the run dir): the open gate, decisions taken at gates,
 * pending directives, loop counters, bench progression and cost. Changed only inside the commit
 * of the step (or gate answer) that changes it.
 */

export const GATE_IDS = [
  'wrapper',
  'upstream-intent',
  'picks',
  'build-plan',
  'all-pass',
  'verdict',
  'baseline',
] as const;
export type GateId = (typeof GATE_IDS)[number];

const stepId = z.enum(STEP_IDS);

export const gateOptionSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/),
  description: z.string().min(1),
});

export const openGateSchema = z.strictObject({
  id: z.enum(GATE_IDS),
  step: stepId,
  question: z.string().min(1),
  options: z.array(gateOptionSchema).min(1),
  default: z.string(),
  /** Files the human should look at before answering, run-dir relative. */
  files: z.array(z.string()),
  asked_at: z.iso.datetime(),
});
export type OpenGate = z.infer<typeof openGateSchema>;

export const decisionSchema = z.strictObject({
  gate: z.enum(GATE_IDS),
  answer: z.string(),
  by: z.string(),
  at: z.iso.datetime(),
});
export type Decision = z.infer<typeof decisionSchema>;

const rate = z.number().min(0).max(100).nullable();
/** A two-sided interval in percent, at the run's confidence. */
const percentInterval = z.tuple([z.number(), z.number()]).nullable();
export const benchPointSchema = z.strictObject({
  iteration: z.int().min(0),
  skill: z.enum(['vendored-skill', 'improved-skill']),
  pass_rate: rate,
  heldout_pass_rate: rate,
  min_probe_pass_rate: rate,
  baseline_pass_rate: rate,
  /** true: the candidate was kept (verdict improved); false: it was discarded; null: no candidate. */
  accepted: z.boolean().nullable(),
  results_dir: z.string(),
  /** The verdict against the kept skill's bench; null when this bench compared nothing. */
  verdict: z.enum(['improved', 'inconclusive', 'rejected']).nullable().default(null),
  /** One line saying why (the verdict's evidence, or why no verdict). */
  verdict_reason: z.string().nullable().default(null),
  /** This bench measured the skill kept after it (a discarded candidate's bench did not). */
  kept: z.boolean().default(true),
  /** Graded (pass + fail) and errored trials with the skill. */
  graded: z.int().min(0).default(0),
  errored: z.int().min(0).default(0),
  pass_rate_interval: percentInterval.default(null),
  heldout_interval: percentInterval.default(null),
  heldout_graded: z.int().min(0).default(0),
  /** The kept skill beats the no-skill baseline beyond noise; null without a baseline. */
  beats_baseline: z.boolean().nullable().default(null),
  /** Probes whose no-skill trials pass at least as often as the kept skill's. */
  non_discriminating: z.array(z.string()).default([]),
  /** The confidence its intervals and verdict are stated at. */
  confidence: z.number().min(0.5).max(0.999).default(0.95),
  /** Trials added to deciding probes before the verdict (each side). */
  extra_trials: z.int().min(0).default(0),
});
export type BenchPoint = z.infer<typeof benchPointSchema>;

/** Step 06 fanned out over the job matrix, waiting for its merge job (chain/bench-plan.ts). */
export const benchPlanSchema = z.strictObject({
  /** Shard jobs (`shard: i/n` with n = shards). */
  shards: z.int().min(2),
  /** Trials of the whole bench, and of each shard (index 0 is shard 1/n). */
  trials: z.int().min(1),
  per_shard: z.array(z.int().min(0)),
  /** The first bench also runs every probe without the skill. */
  baseline: z.boolean(),
  skill: z.enum(['vendored-skill', 'improved-skill']),
  /** The work branch head whose suite and skill the shards bench. */
  commit: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/),
  planned_at: z.iso.datetime(),
});
export type BenchPlan = z.infer<typeof benchPlanSchema>;

const usageSchema = z.strictObject({
  input_tokens: z.int().min(0),
  output_tokens: z.int().min(0),
  cache_creation_input_tokens: z.int().min(0),
  cache_read_input_tokens: z.int().min(0),
});

export const chainStateSchema = z.strictObject({
  slug: z.string(),
  /** Where the skill lives in the repository (repo-relative). */
  skill_path: z.string(),
  /** The commit the skill was vendored from. */
  source_commit: z.string(),
  autopilot: z.boolean(),
  status: z.enum(['running', 'gate', 'done', 'stopped', 'failed']),
  stop_reason: z.string().nullable(),
  open_gate: openGateSchema.nullable(),
  decisions: z.array(decisionSchema),
  /** Directives waiting for a step's next run; consumed when that step commits. */
  directives: z.partialRecord(stepId, z.array(z.string())),
  /** Upstream-PR intent as confirmed at the gate (null until confirmed). */
  upstream: z.boolean().nullable(),
  /** The answer to the wrapper gate for the current step-1 report (null until answered). */
  wrapper: z.enum(['revendor', 'keep']).nullable(),
  /** Step 3 proposed tests since the last picks answer: the picks gate asks again. */
  picks_pending: z.boolean().default(false),
  /** The build plan (probe ids) approved at the gate before step 4 dispatches. */
  build_plan_approved: z.string().nullable(),
  /** needs-revision rounds in the current improve↔validate loop. */
  revisions: z.int().min(0),
  /** Consecutive rounds in which the test validator rejected probes. */
  rejected_rounds: z.int().min(0),
  consecutive_failures: z.int().min(0),
  last_error: z.strictObject({ step: z.string(), message: z.string() }).nullable(),
  benches: z.array(benchPointSchema),
  weaknesses_addressed: z.array(z.string()),
  /** Weaknesses of the approved candidate not yet benched: kept only if its verdict is improved. */
  weaknesses_pending: z.array(z.string()).default([]),
  /** Candidates that were benched and not kept, with why. */
  discarded: z
    .array(
      z.strictObject({
        iteration: z.int().min(0),
        weaknesses: z.array(z.string()),
        reason: z.string(),
      }),
    )
    .default([]),
  /** How the run ends once the open baseline gate is answered. */
  pending_finish: z
    .strictObject({ status: z.enum(['done', 'stopped']), reason: z.string() })
    .nullable()
    .default(null),
  /** The weaknesses each analysis (step 7) named, in order. */
  analyses: z
    .array(z.strictObject({ after_bench: z.int().min(-1), weaknesses: z.array(z.string()) }))
    .default([]),
  /** Duct-tape and held-out findings of the candidate path, for the report. */
  findings: z.array(z.string()).default([]),
  /** Step 06 fanned out over the Actions job matrix and waits for its merge job. */
  bench_plan: benchPlanSchema.nullable().default(null),
  usage: usageSchema,
  cost_usd: z.number().min(0),
  budget_warned: z.boolean(),
});
export type ChainState = z.infer<typeof chainStateSchema>;

export function initialState(init: {
  slug: string;
  skillPath: string;
  sourceCommit: string;
  autopilot: boolean;
}): ChainState {
  return {
    slug: init.slug,
    skill_path: init.skillPath,
    source_commit: init.sourceCommit,
    autopilot: init.autopilot,
    status: 'running',
    stop_reason: null,
    open_gate: null,
    decisions: [],
    directives: {},
    upstream: null,
    wrapper: null,
    picks_pending: false,
    build_plan_approved: null,
    revisions: 0,
    rejected_rounds: 0,
    consecutive_failures: 0,
    last_error: null,
    benches: [],
    weaknesses_addressed: [],
    weaknesses_pending: [],
    discarded: [],
    pending_finish: null,
    analyses: [],
    findings: [],
    bench_plan: null,
    usage: {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
    cost_usd: 0,
    budget_warned: false,
  };
}

export function parseState(text: string, file: string): ChainState {
  let value: unknown;
  try {
    value = parse(text, { schema: 'core', resolveKnownTags: false, uniqueKeys: true });
  } catch (error) {
    throw new InvalidFileError(file, `invalid YAML: ${(error as Error).message}`);
  }
  const result = chainStateSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidFileError(
      file,
      `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

export function renderState(state: ChainState): string {
  return `# Skill Optimizer driver state. Edit only through the CLI or /optimize commands.\n${stringify(chainStateSchema.parse(state), { lineWidth: 0 })}`;
}

export async function readState(store: RunStore): Promise<ChainState | null> {
  const text = await store.read(RUN_FILES.state);
  return text === null ? null : parseState(text, `${store.runDir}/${RUN_FILES.state}`);
}

export function stateChange(state: ChainState): { path: string; content: string } {
  return { path: RUN_FILES.state, content: renderState(state) };
}

export function takeDirectives(state: ChainState, step: StepId): string[] {
  return state.directives[step] ?? [];
}
