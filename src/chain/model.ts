import type { TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { ModelClient } from '../model/client.js';
import { callStructured } from '../model/structured.js';
import { renderPrompt } from '../prompts/render.js';

/** The subagent roles of CHAIN.md §4 plus the non-convergence reviewer. */
export const ROLES = [
  'functionality',
  'submissions',
  'test-designer',
  'test-writer',
  'test-validator',
  'analyst',
  'optimizer',
  'validator',
  'reviewer',
] as const;
export type Role = (typeof ROLES)[number];

/** Evaluating roles run on the evaluator model; the rest on the optimizer model. */
const EVALUATORS: ReadonlySet<Role> = new Set(['test-validator', 'validator']);

/**
 * A rendered role prompt. `shared` is the part identical across parallel calls of the role
 * (instructions and shared inputs, cache-marked); `task` is this call's own input.
 */
export interface RolePrompt {
  shared: string;
  task: string;
}

/** Where a role template splits into its shared prefix and its per-call part. */
export const TASK_MARK = '%%TASK%%';

/** Renders `prompts/<role>.md` from a typed input and splits it at the task mark. */
export async function renderRolePrompt(
  role: Role,
  values: Record<string, string>,
  dir?: string,
): Promise<RolePrompt> {
  const text = await renderPrompt(role, values, dir);
  const at = text.indexOf(`\n${TASK_MARK}\n`);
  if (at < 0) return { shared: text.trim(), task: '' };
  return {
    shared: text.slice(0, at).trim(),
    task: text.slice(at + TASK_MARK.length + 2).trim(),
  };
}

export interface RoleOutput<T> {
  schema: z.ZodType<T>;
  toolName: string;
  toolDescription: string;
  maxTokens?: number;
  /** Checks beyond the schema; each problem goes back to the model for a repair turn. */
  validate?: (value: T) => Promise<readonly string[]> | readonly string[];
  /** Repair turns after the first answer (default 1). */
  repairs?: number;
  /** Top-level fields in groups, asked one group per turn when an answer hits `max_tokens`. */
  split?: readonly (readonly string[])[];
}

/** One role-scoped structured model call: the only way the chain talks to a model. */
export interface ChainModel {
  call<T>(role: Role, prompt: RolePrompt, output: RoleOutput<T>, signal?: AbortSignal): Promise<T>;
}

export function createChainModel(client: ModelClient, models: Config['models']): ChainModel {
  return {
    async call(role, prompt, output, signal) {
      const system = await renderPrompt('subagent-system', {});
      const content: TextBlockParam[] = [
        { type: 'text', text: prompt.shared, cache_control: { type: 'ephemeral' } },
      ];
      if (prompt.task !== '') content.push({ type: 'text', text: prompt.task });
      return callStructured({
        client,
        model: EVALUATORS.has(role) ? models.evaluator : models.optimizer,
        system,
        messages: [{ role: 'user', content }],
        schema: output.schema,
        toolName: output.toolName,
        toolDescription: output.toolDescription,
        tag: role,
        maxTokens: output.maxTokens ?? 8192,
        ...(output.validate ? { validate: output.validate } : {}),
        ...(output.repairs === undefined ? {} : { repairs: output.repairs }),
        ...(output.split ? { split: output.split } : {}),
        ...(signal ? { signal } : {}),
      });
    },
  };
}
