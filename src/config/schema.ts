import { z } from 'zod';
import { priceTableSchema } from '../model/pricing.js';

/** Used for every model role unless the config names another. */
export const DEFAULT_MODEL = 'claude-sonnet-4-6';

export const PRESET_NAMES = ['quick', 'standard', 'thorough'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const modelId = z
  .string()
  .regex(/^\S+$/, 'expected a model id without spaces')
  .max(200)
  .describe('A model id, e.g. claude-sonnet-4-6');

/** A GitHub login; bots may be written with or without their `[bot]` suffix. */
const login = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/,
    'expected a GitHub login such as renovate or renovate[bot]',
  );

const label = z.string().min(1).max(50, 'GitHub labels are at most 50 characters');

/**
 * A path relative to the repository root that cannot leave it: no absolute paths, no `..`,
 * no empty or `.` segments, forward slashes only.
 */
export const safeRelativePath = z.string().superRefine((value, ctx) => {
  const problem = relativePathProblem(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

function relativePathProblem(value: string): string | null {
  if (value === '') return 'must not be empty';
  if (value.includes('\\')) return 'use forward slashes';
  if (value.includes('\0')) return 'must not contain NUL';
  if (value.startsWith('/') || /^[A-Za-z]:/.test(value)) {
    return 'must be relative to the repository root';
  }
  for (const segment of value.split('/')) {
    if (segment === '..') return "must not contain '..'";
    if (segment === '' || segment === '.') return "must not contain empty or '.' segments";
  }
  return null;
}

const labelsSchema = z
  .object({
    run: label.default('skill-optimizer').describe('Label that starts a run with gates.'),
    autopilot: label
      .default('skill-optimizer:autopilot')
      .describe('Label that starts a run with gates answered by their defaults.'),
  })
  .strict()
  .refine((labels) => labels.run !== labels.autopilot, {
    message: 'run and autopilot labels must differ',
  })
  .describe('Labels that trigger the bot on a skill pull request.');

const modelsSchema = z
  .object({
    executor: modelId.default(DEFAULT_MODEL).describe('Runs the skill in each bench trial.'),
    evaluator: modelId.default(DEFAULT_MODEL).describe('Grades trials and reviews results.'),
    optimizer: modelId
      .default(DEFAULT_MODEL)
      .describe('Analyses weaknesses and rewrites the skill.'),
    bench: z
      .array(modelId, {
        error: (issue) =>
          issue.code === 'invalid_type' ? 'expected a list of model ids' : undefined,
      })
      .min(1, 'list at least one model')
      .refine((ids) => new Set(ids).size === ids.length, 'lists a model more than once')
      .optional()
      .describe('Models the bench runs the skill on (default: the executor).'),
  })
  .strict()
  .transform((models) => ({ ...models, bench: models.bench ?? [models.executor] }))
  .describe('Model per role.');

export const configSchema = z
  .object({
    labels: labelsSchema.prefault({}),
    models: modelsSchema.prefault({}),
    runner: z
      .enum(['messages', 'claude-code'])
      .default('messages')
      .describe('How trials run: a Messages API tool loop, or Claude Code in a sandbox.'),
    sandbox: z
      .enum(['auto', 'bubblewrap', 'process'])
      .default('auto')
      .describe(
        "Isolation of trials and graders: bubblewrap, or 'process' (plain processes, weaker; only on this explicit request). 'auto' uses bubblewrap and fails when it cannot start while a secret is in reach.",
      ),
    trials: z.int().min(1).max(100).default(3).describe('Trials per probe and model.'),
    concurrency: z.int().min(1).max(64).default(4).describe('Trials running at the same time.'),
    preset: z
      .enum(PRESET_NAMES)
      .default('standard')
      .describe(
        'Loop limits: quick (3 iterations, threshold 70), standard (5, 80), thorough (8, 90).',
      ),
    threshold: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe('Pass rate (percent) that ends the outer loop; overrides the preset.'),
    max_iterations: z
      .int()
      .min(1)
      .max(50)
      .optional()
      .describe('Outer-loop iterations at most; overrides the preset.'),
    max_revisions: z
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('Needs-revision rounds between improve and validate (default 2).'),
    picks: z
      .object({
        default_top: z
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe(
            "Functionalities picked by the designer's priority when the picks gate is answered by default.",
          ),
      })
      .strict()
      .prefault({})
      .describe('How the picks gate chooses functionalities to write probes for.'),
    run_dir: safeRelativePath
      .default('.skill-optimizer')
      .describe('Root of the run directories, relative to the repository root.'),
    upstream: z
      .object({
        submit: z
          .boolean()
          .default(false)
          .describe('Default answer to "submit the improvement upstream?".'),
      })
      .strict()
      .prefault({})
      .describe('Whether a finished improvement is proposed to the upstream repository.'),
    allowed_bots: z
      .array(login)
      .default([])
      .describe('Bot accounts whose commands and labels are obeyed (all other bots are ignored).'),
    budget_usd: z
      .number()
      .positive()
      .default(10)
      .describe(
        "Hard cap on a run's model cost in US dollars (default 10): trials are not started and subagents not called once it would be exceeded; a warning is recorded at half.",
      ),
    confidence: z
      .number()
      .min(0.5)
      .max(0.999)
      .default(0.95)
      .describe('Confidence of every verdict (improved / rejected) and interval in the reports.'),
    k: z
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe(
        'The k of pass@k and pass^k (unbiased estimates; shown as – when fewer trials were graded).',
      ),
    max_error_rate: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe(
        'Largest share of errored trials (infrastructure failures) a bench may have and still give a verdict; errored trials are retried once first.',
      ),
    max_extra_trials: z
      .int()
      .min(0)
      .max(100)
      .default(6)
      .describe(
        'Extra trials per deciding probe the bench may add, in rounds of `trials`, when a comparison is inconclusive but favours the candidate (0 turns this off).',
      ),
    matrix_min_trials: z
      .int()
      .min(1)
      .optional()
      .describe(
        "In GitHub Actions: a bench with more trials than this (probes × models × trials × sides) does not run in the chain's job but fans out over the workflow's job matrix, and a merge job resumes the chain from the merged results (unset: every bench runs in the chain's job).",
      ),
    matrix_shards: z
      .int()
      .min(2)
      .max(256)
      .default(4)
      .describe('Shard jobs of a bench that fans out over the job matrix (at most one per trial).'),
    prices: priceTableSchema
      .optional()
      .describe(
        'Per-model price overrides in USD per million tokens, laid over the built-in table.',
      ),
    context_share: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe(
        "Share of a model's context window one role request may fill; a skill larger than that is given to the role as an index it pages files in from.",
      ),
    heldout_share: z
      .number()
      .min(0)
      .lt(1)
      .default(0.25)
      .describe('Share of probes held out from the optimizer to check the gain generalises.'),
  })
  .strict();

/** The config as written (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config with every default filled in. */
export type Config = z.output<typeof configSchema>;

export function defaultConfig(): Config {
  return configSchema.parse({});
}
