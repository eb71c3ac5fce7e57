import { z } from 'zod';
import { parseShard, type Shard } from '../bench/shard.js';
import { STEP_IDS, type StepId } from '../chain/catalog.js';
import { CONFIG_PATH } from '../config/load.js';
import { SkillOptimizerError } from '../errors.js';

/**
 * The Action's inputs (action.yml), validated here once; nothing below the adapter reads
 * `INPUT_*` itself. Names match action.yml exactly.
 */

export const ACTION_COMMANDS = ['auto', ...STEP_IDS, 'bench-shard', 'bench-merge'] as const;
export type ActionCommand = (typeof ACTION_COMMANDS)[number];

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
    error: 'must be a path inside the repository (relative, no "..")',
  });

export const actionInputsSchema = z
  .strictObject({
    command: z.enum(ACTION_COMMANDS, {
      error: `must be one of: ${ACTION_COMMANDS.join(', ')}`,
    }),
    shard: z.string().transform((text, ctx): Shard | null => {
      if (text.trim() === '') return null;
      try {
        return parseShard(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    'config-path': relativePath,
    /** Empty when the workflow has no access to secrets (e.g. a fork's pull_request). */
    'anthropic-api-key': z.string(),
    'github-token': z
      .string()
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, shown to the user
      .min(1, { error: 'is empty; pass ${{ github.token }} or an App token' }),
    /** Login the bot acts as; its own events never trigger it. */
    'bot-login': z.string().min(1),
    /** bench-shard: the suite to run (repository-relative tests/suite.yml). */
    suite: z.union([z.literal(''), relativePath]),
    /** bench-shard: the skill folder to bench (default: the suite's own setting). */
    skill: z.union([z.literal(''), relativePath]),
    /** bench-shard: also run every probe without the skill. */
    baseline: z.enum(['true', 'false'], { error: "must be 'true' or 'false'" }),
    /** bench-shard of a chain run: the work branch whose planned step 06 this shard runs. */
    'work-branch': z.string(),
    /** bench-merge of a chain run: the chain job's `bench-matrix` output (JSON). */
    'bench-matrix': z.string(),
  })
  .superRefine((inputs, ctx) => {
    if (inputs.command === 'bench-shard') {
      if (inputs.shard === null)
        ctx.addIssue({ code: 'custom', path: ['shard'], message: 'is required for bench-shard' });
      if (inputs.suite === '' && inputs['work-branch'] === '')
        ctx.addIssue({
          code: 'custom',
          path: ['suite'],
          message: 'is required for bench-shard (or work-branch, for a shard of a chain run)',
        });
      if (inputs.suite !== '' && inputs['work-branch'] !== '')
        ctx.addIssue({
          code: 'custom',
          path: ['work-branch'],
          message: 'and suite exclude each other: a shard benches a suite or a chain run',
        });
    }
  });

export type ActionInputs = z.output<typeof actionInputsSchema>;

/** Input name → default; mirrors action.yml (a test keeps the two in step). */
export const INPUT_DEFAULTS: Readonly<Record<keyof z.input<typeof actionInputsSchema>, string>> = {
  command: 'auto',
  shard: '',
  'config-path': CONFIG_PATH,
  'anthropic-api-key': '',
  'github-token': '',
  'bot-login': 'github-actions[bot]',
  suite: '',
  skill: '',
  baseline: 'false',
  'work-branch': '',
  'bench-matrix': '',
};

export class ActionInputError extends SkillOptimizerError {}

/** Reads every input through `get` (core.getInput in the adapter) and validates them together. */
export function readInputs(get: (name: string) => string): ActionInputs {
  const raw: Record<string, string> = {};
  for (const [name, fallback] of Object.entries(INPUT_DEFAULTS)) {
    const value = get(name).trim();
    raw[name] = value === '' ? fallback : value;
  }
  const result = actionInputsSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path[0] === undefined ? '' : `'${String(issue.path[0])}' `;
    return `input ${name}${issue.message}`;
  });
  throw new ActionInputError(`invalid Action inputs: ${problems.join('; ')}`);
}

/** A step name as `command` re-runs that step. */
export function commandStep(command: ActionCommand): StepId | null {
  return (STEP_IDS as readonly string[]).includes(command) ? (command as StepId) : null;
}
