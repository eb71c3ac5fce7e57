import type { MessageParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { z } from 'zod';
import type { Config } from '../config/schema.js';
import { withCacheWarming } from '../model/cache-warm.js';
import type { ModelClient } from '../model/client.js';
import { contextBudget, estimateRequestTokens } from '../model/context-window.js';
import { callStructured, toolInputSchema } from '../model/structured.js';
import { ContextBudgetError, callStructuredWithTools } from '../model/tool-loop.js';
import { renderPrompt } from '../prompts/render.js';
import {
  holdsSkillSections,
  MAX_READ_CHARS,
  pagedSkillSections,
  READ_SKILL_FILE,
  type SkillAttachment,
  skillFileReader,
  swapSkillSections,
} from './skill-context.js';

/** The subagent roles of docs/chain.md plus the non-convergence reviewer. */
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
  /**
   * Skill copies inlined in the prompt (as `skillSections(skill, label)`). When the prompt is over
   * the role's context budget they are paged: see skill-context.ts.
   */
  skills?: readonly SkillAttachment[];
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

export interface ChainModelOptions {
  /** Share of the model's context window one role request may fill (config `context_share`). */
  contextShare: number;
  /**
   * Hold parallel calls of a role until the first has written their shared prefix to the prompt
   * cache: each held call then reads it at 0.1x instead of writing it at 1.25x, at the price of
   * one call's latency before the fan-out. Off by default: a chain fan-out (steps 4 and 5) is one
   * wave of at most `concurrency` calls, so the hold doubles the step's wall time to save
   * (n − 1) × 1.15 × the shared prefix, a few cents a step. Bench trials, many waves long, warm.
   */
  warmCache?: boolean;
}

/** A role prompt as the user message: the shared part cache-marked, then the task. */
function userMessage(prompt: Pick<RolePrompt, 'shared' | 'task'>): MessageParam {
  const content: TextBlockParam[] = [
    { type: 'text', text: prompt.shared, cache_control: { type: 'ephemeral' } },
  ];
  if (prompt.task !== '') content.push({ type: 'text', text: prompt.task });
  return { role: 'user', content };
}

/**
 * The least room a paged prompt needs besides its fixed part: the index and whole files take half,
 * reads the other half, which must hold one longest read (~10k tokens) with room to spare.
 */
const MIN_ROOM = 2 * Math.ceil((1.5 * MAX_READ_CHARS) / 3);

export function createChainModel(
  modelClient: ModelClient,
  models: Config['models'],
  options: ChainModelOptions,
): ChainModel {
  // Parallel calls of a role (steps 4 and 5 per probe) share their instructions and inputs; with
  // `warmCache` the first one writes them to the prompt cache before the rest start.
  const client = options.warmCache === true ? withCacheWarming(modelClient) : modelClient;
  return {
    async call(role, prompt, output, signal) {
      const system = await renderPrompt('subagent-system', {});
      const model = EVALUATORS.has(role) ? models.evaluator : models.optimizer;
      const call = {
        client,
        model,
        system,
        messages: [userMessage(prompt)],
        schema: output.schema,
        toolName: output.toolName,
        toolDescription: output.toolDescription,
        tag: role,
        maxTokens: output.maxTokens ?? 8192,
        ...(output.validate ? { validate: output.validate } : {}),
        ...(output.repairs === undefined ? {} : { repairs: output.repairs }),
        ...(output.split ? { split: output.split } : {}),
        ...(signal ? { signal } : {}),
      };
      const budget = contextBudget(model, options.contextShare);
      const outputTool = {
        name: output.toolName,
        description: output.toolDescription,
        input_schema: toolInputSchema(output.schema),
      };
      const whole = estimateRequestTokens({ system, tools: [outputTool], messages: call.messages });
      const skills = prompt.skills ?? [];
      if (whole <= budget) return callStructured(call);
      if (skills.length === 0) throw new ContextBudgetError(role, whole, budget);
      if (!holdsSkillSections([prompt.shared, prompt.task], skills)) {
        throw new TypeError(`The ${role} prompt does not hold the skill sections it attaches`);
      }

      const reader = skillFileReader(skills);
      const instructions = await renderPrompt('read-skill-file', { tool_name: READ_SKILL_FILE });
      const swap = (view: (a: SkillAttachment) => string) => ({
        shared: swapSkillSections(prompt.shared, skills, view),
        task: swapSkillSections(prompt.task, skills, view),
      });
      const fixed = estimateRequestTokens({
        system: `${system}\n${instructions}`,
        tools: [reader.tool, outputTool],
        messages: [userMessage(swap(() => ''))],
      });
      const room = budget - fixed;
      if (room < MIN_ROOM) throw new ContextBudgetError(role, fixed + MIN_ROOM, budget);
      // Half the room for whole files up front, half for what the role reads.
      const perSkill = Math.floor(room / 2 / skills.length);
      const paged = swap((a) => pagedSkillSections(a, perSkill));
      return callStructuredWithTools(
        { ...call, messages: [userMessage(paged)] },
        { tools: [reader], budgetTokens: budget, instructions },
      );
    },
  };
}
