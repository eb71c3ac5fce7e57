import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  TextBlockParam,
  Tool,
  ToolChoice,
  ToolUseBlock,
} from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { SkillOptimizerError } from '../errors.js';
import { renderPrompt } from '../prompts/render.js';
import { dataSection } from '../text/sanitize.js';
import { type CacheMarkOptions, withCacheMarks } from './cache-marks.js';
import type { ModelClient } from './client.js';

/** A model's structured output failed its schema twice (first answer and one repair). */
export class InvalidModelOutputError extends SkillOptimizerError {
  constructor(
    readonly tag: string,
    readonly issues: readonly string[],
  ) {
    super(
      `The ${tag} model returned output that does not match its schema, twice (after one repair ` +
        `attempt): ${issues.join('; ')}`,
    );
  }
}

export interface StructuredCall<T> {
  client: ModelClient;
  model: string;
  system?: string | TextBlockParam[];
  messages: MessageParam[];
  /** Validates the tool input; its JSON Schema is what the model is asked to fill. */
  schema: z.ZodType<T>;
  toolName: string;
  toolDescription: string;
  /** Role of the call (`researcher`, `optimizer`...): ledger tag and error wording. */
  tag: string;
  maxTokens: number;
  /** Shared-prefix messages to cache-mark; the system prompt and the tool are always marked. */
  cache?: CacheMarkOptions;
  /**
   * `forced` sets `tool_choice` to the tool; `instructed` leaves the choice to the model and tells
   * it to call the tool. Default: by model (see `supportsForcedToolChoice`).
   */
  toolChoice?: 'forced' | 'instructed';
  signal?: AbortSignal;
}

/**
 * Models documented to answer a forced `tool_choice` (`tool` or `any`) with a 400: Claude Opus 5.5,
 * Sonnet 5.5 and Fable 5.1 (https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5).
 */
const NO_FORCED_TOOL_CHOICE = /^claude-(opus-5-5|sonnet-5-5|fable-5-1)(?![0-9])/;

export function supportsForcedToolChoice(model: string): boolean {
  return !NO_FORCED_TOOL_CHOICE.test(
    model.toLowerCase().replace(/^([a-z]{2,4}\.)?anthropic\./, ''),
  );
}

const MAX_ISSUES = 20;

/** The tool's `input_schema`: the zod schema's input side as JSON Schema, without `$schema`. */
export function toolInputSchema(schema: z.ZodType): Tool.InputSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  if (json.type !== 'object') {
    throw new TypeError(
      `A structured-output schema must describe an object, got ${JSON.stringify(json.type)}`,
    );
  }
  return json as Tool.InputSchema;
}

export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; issues: string[]; toolUse: ToolUseBlock | undefined };

function formatIssues(error: z.ZodError): string[] {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  return lines.length > MAX_ISSUES
    ? [...lines.slice(0, MAX_ISSUES), `…and ${lines.length - MAX_ISSUES} more`]
    : lines;
}

export function check<T>(message: Message, toolName: string, schema: z.ZodType<T>): Outcome<T> {
  const toolUse = message.content.find(
    (block): block is ToolUseBlock => block.type === 'tool_use' && block.name === toolName,
  );
  if (!toolUse) {
    return {
      ok: false,
      toolUse,
      issues: [`no call to the tool ${toolName} (stop_reason: ${message.stop_reason ?? 'none'})`],
    };
  }
  const parsed = schema.safeParse(toolUse.input);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, toolUse, issues: formatIssues(parsed.error) };
}

/** The assistant's reply as request content (response blocks carry fields requests refuse). */
export function asParam(block: ContentBlock): ContentBlockParam | undefined {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
    default:
      return undefined;
  }
}

export async function repairTurns(
  message: Message,
  toolName: string,
  failure: Outcome<unknown>,
): Promise<MessageParam[]> {
  if (failure.ok) return [];
  const feedback = await renderPrompt('structured-repair', {
    tool_name: toolName,
    issues: dataSection('schema-issues', failure.issues.map((issue) => `- ${issue}`).join('\n')),
  });
  // A tool_use block must be answered by a tool_result: keep only the one being answered.
  const assistant = message.content
    .flatMap((block) => asParam(block) ?? [])
    .filter((block) => block.type !== 'tool_use' || block.id === failure.toolUse?.id);
  const turns: MessageParam[] =
    assistant.length > 0 ? [{ role: 'assistant', content: assistant }] : [];
  const user: ContentBlockParam = failure.toolUse
    ? { type: 'tool_result', tool_use_id: failure.toolUse.id, is_error: true, content: feedback }
    : { type: 'text', text: feedback };
  turns.push({ role: 'user', content: [user] });
  return turns;
}

export async function systemFor<T>(call: StructuredCall<T>, forced: boolean) {
  if (forced) return call.system;
  const instruction: TextBlockParam = {
    type: 'text',
    text: await renderPrompt('structured-call-tool', { tool_name: call.toolName }),
  };
  if (call.system === undefined) return [instruction];
  const blocks: TextBlockParam[] =
    typeof call.system === 'string' ? [{ type: 'text', text: call.system }] : call.system;
  return [...blocks, instruction];
}

/**
 * Structured output through a tool call: the model must call `toolName` (forced where the model
 * allows it, instructed otherwise), whose input schema is generated from `schema`, and the input is
 * validated with the same schema. On invalid output it gets one repair turn (the issues as an error
 * tool result); a second failure throws `InvalidModelOutputError`.
 */
export async function callStructured<T>(call: StructuredCall<T>): Promise<T> {
  const tool: Tool = {
    name: call.toolName,
    description: call.toolDescription,
    input_schema: toolInputSchema(call.schema),
  };
  const forced =
    call.toolChoice === undefined
      ? supportsForcedToolChoice(call.model)
      : call.toolChoice === 'forced';
  const system = await systemFor(call, forced);
  const toolChoice: ToolChoice = forced ? { type: 'tool', name: call.toolName } : { type: 'auto' };
  const request = (messages: MessageParam[]): MessageCreateParamsNonStreaming =>
    withCacheMarks(
      {
        model: call.model,
        max_tokens: call.maxTokens,
        ...(system === undefined ? {} : { system }),
        messages,
        tools: [tool],
        tool_choice: toolChoice,
      },
      call.cache,
    );
  const meta = { tag: call.tag, ...(call.signal ? { signal: call.signal } : {}) };

  const first = await call.client.create(request(call.messages), meta);
  const firstOutcome = check(first, call.toolName, call.schema);
  if (firstOutcome.ok) return firstOutcome.value;

  const repaired = [...call.messages, ...(await repairTurns(first, call.toolName, firstOutcome))];
  const second = await call.client.create(request(repaired), meta);
  const secondOutcome = check(second, call.toolName, call.schema);
  if (secondOutcome.ok) return secondOutcome.value;
  throw new InvalidModelOutputError(call.tag, secondOutcome.issues);
}
