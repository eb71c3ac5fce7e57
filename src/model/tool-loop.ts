import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  MessageParam,
  TextBlockParam,
  Tool,
  ToolChoice,
  ToolResultBlockParam,
  ToolUseBlock,
} from '@anthropic-ai/sdk/resources/messages';
import { SkillOptimizerError } from '../errors.js';
import { renderPrompt } from '../prompts/render.js';
import { withCacheMarks } from './cache-marks.js';
import { estimateRequestTokens, estimateTokens } from './context-window.js';
import {
  asParam,
  check,
  InvalidModelOutputError,
  OutputTruncatedError,
  repairTurns,
  type StructuredCall,
  supportsForcedToolChoice,
  systemFor,
  toolInputSchema,
} from './structured.js';

/** A tool answered on this side of the API (no side effects beyond reading). */
export interface LocalTool {
  tool: Tool;
  /** The result text for one call; bad input is answered with `isError`, never thrown. */
  answer(input: unknown): Promise<{ content: string; isError: boolean }>;
}

export interface ToolLoopOptions {
  tools: readonly LocalTool[];
  /** Estimated input tokens no request may exceed; the oldest local results are elided first. */
  budgetTokens: number;
  /** Model turns that may call local tools before the output tool is required (default 40). */
  maxToolTurns?: number;
  /** System text on how to use the local tools (appended to the call's system prompt). */
  instructions: string;
}

/** A request would exceed its context budget even with every elidable tool result removed. */
export class ContextBudgetError extends SkillOptimizerError {
  constructor(
    readonly tag: string,
    readonly tokens: number,
    readonly budget: number,
  ) {
    super(
      `The ${tag} prompt needs about ${tokens} tokens, over its budget of ${budget} ` +
        `(context_share of the model's context window). Raise context_share in the config, ` +
        `or use a model with a larger window.`,
    );
  }
}

const DEFAULT_TOOL_TURNS = 40;

/**
 * `callStructured` with local tools the model may call first (for instance to page in files that
 * did not fit in the prompt). Each turn either calls local tools — answered, and the loop goes on —
 * or the output tool, validated by the same schema and repaired once like `callStructured`. Every
 * request is kept under `budgetTokens` by eliding the oldest local tool results; after
 * `maxToolTurns` local calls are refused and the output tool is forced where the model allows it.
 */
export async function callStructuredWithTools<T>(
  call: StructuredCall<T>,
  opts: ToolLoopOptions,
): Promise<T> {
  const output: Tool = {
    name: call.toolName,
    description: call.toolDescription,
    input_schema: toolInputSchema(call.schema),
  };
  const local = new Map(opts.tools.map((t) => [t.tool.name, t]));
  if (local.has(call.toolName)) {
    throw new TypeError(`A local tool may not share the output tool's name ${call.toolName}`);
  }
  const forcible =
    call.toolChoice === undefined
      ? supportsForcedToolChoice(call.model)
      : call.toolChoice === 'forced';
  const base = await systemFor(call, false, call.toolName);
  const system: TextBlockParam[] = [
    ...(typeof base === 'string' ? [{ type: 'text' as const, text: base }] : (base ?? [])),
    { type: 'text', text: opts.instructions },
  ];
  const tools = [...opts.tools.map((t) => t.tool), output];
  const maxToolTurns = opts.maxToolTurns ?? DEFAULT_TOOL_TURNS;
  const meta = { tag: call.tag, ...(call.signal ? { signal: call.signal } : {}) };
  const messages: MessageParam[] = [...call.messages];
  const elidable = new Set<ToolResultBlockParam>();
  const elided = await renderPrompt('tool-result-elided', {
    tool_name: opts.tools[0]?.tool.name ?? call.toolName,
  });
  const spent = await renderPrompt('tool-turns-spent', { tool_name: call.toolName });

  // The conversation so far is the prefix of the next turn: mark its end for the prompt cache.
  const cache = { sharedPrefixMessages: [...(call.cache?.sharedPrefixMessages ?? []), -1] };

  let toolTurns = 0;
  let repaired = 0;
  for (let turn = 0; turn <= maxToolTurns + 2; turn++) {
    const reading = toolTurns < maxToolTurns;
    const toolChoice: ToolChoice = !forcible
      ? { type: 'auto' }
      : reading
        ? { type: 'any' }
        : { type: 'tool', name: call.toolName };
    const request = (): MessageCreateParamsNonStreaming =>
      withCacheMarks(
        {
          model: call.model,
          max_tokens: call.maxTokens,
          system,
          messages,
          tools,
          tool_choice: toolChoice,
        },
        cache,
      );
    fitBudget(request, elidable, elided, call.tag, opts.budgetTokens);
    const reply = await call.client.create(request(), meta);

    const uses = reply.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    const calledOutput = uses.some((u) => u.name === call.toolName);
    if (!calledOutput && uses.length > 0) {
      toolTurns++;
      const results: ToolResultBlockParam[] = [];
      for (const use of uses) {
        const result = await answerLocal(local.get(use.name), use, reading, spent);
        results.push(result);
        if (result.is_error !== true) elidable.add(result);
      }
      messages.push({
        role: 'assistant',
        content: reply.content.flatMap((b): ContentBlockParam[] => {
          const param = asParam(b);
          return param ? [param] : [];
        }),
      });
      messages.push({ role: 'user', content: results });
      continue;
    }
    if (reply.stop_reason === 'max_tokens') {
      throw new OutputTruncatedError(call.tag, call.maxTokens, `a call to ${call.toolName}`);
    }
    const outcome = await check(reply, call.toolName, call.schema, call.validate);
    if (outcome.ok) return outcome.value;
    if (repaired >= (call.repairs ?? 1)) {
      throw new InvalidModelOutputError(call.tag, outcome.issues, repaired);
    }
    repaired++;
    messages.push(...(await repairTurns(reply, call.toolName, outcome.issues, outcome.toolUse)));
  }
  throw new InvalidModelOutputError(call.tag, [
    `no call to the tool ${call.toolName} after ${maxToolTurns} turns of local tool calls`,
  ]);
}

async function answerLocal(
  tool: LocalTool | undefined,
  use: ToolUseBlock,
  reading: boolean,
  spent: string,
): Promise<ToolResultBlockParam> {
  const base = { type: 'tool_result' as const, tool_use_id: use.id };
  if (!reading) return { ...base, is_error: true, content: spent };
  if (tool === undefined) {
    return { ...base, is_error: true, content: `There is no tool named ${use.name}.` };
  }
  const { content, isError } = await tool.answer(use.input);
  return isError ? { ...base, is_error: true, content } : { ...base, content };
}

/** Elides the oldest local results (in place) until the request is estimated within budget. */
function fitBudget(
  request: () => MessageCreateParamsNonStreaming,
  elidable: Set<ToolResultBlockParam>,
  placeholder: string,
  tag: string,
  budget: number,
): void {
  let tokens = estimateRequestTokens(request());
  while (tokens > budget && elidable.size > 0) {
    // Subtract each elided result's own estimate; one full estimate per round confirms the sum.
    let left = tokens;
    for (const result of elidable) {
      if (left <= budget) break;
      left -= estimateTokens(JSON.stringify(result.content)) - estimateTokens(placeholder) - 1;
      result.content = placeholder;
      elidable.delete(result);
    }
    tokens = estimateRequestTokens(request());
  }
  if (tokens > budget) throw new ContextBudgetError(tag, tokens, budget);
}
