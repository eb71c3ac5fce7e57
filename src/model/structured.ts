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

/** A model's structured output failed its checks on the first answer and on every repair turn. */
export class InvalidModelOutputError extends SkillOptimizerError {
  constructor(
    readonly tag: string,
    readonly issues: readonly string[],
    readonly repairs = 1,
  ) {
    super(
      `The ${tag} model returned output that does not pass its checks, ${repairs + 1} times ` +
        `(after ${repairs} repair attempt${repairs === 1 ? '' : 's'}): ${issues.join('; ')}`,
    );
  }
}

/** A reply stopped at `max_tokens` and the call had no way to split its work further. */
export class OutputTruncatedError extends SkillOptimizerError {
  constructor(
    readonly tag: string,
    readonly maxTokens: number,
    what: string,
  ) {
    super(
      `The ${tag} model's answer (${what}) was cut off at its output limit of ${maxTokens} ` +
        'tokens, so it is incomplete; run the step again, with a directive asking for a smaller answer',
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
  /**
   * Checks a schema-valid value against the world (e.g. edits applied to files); each string it
   * returns is a problem sent back to the model, in the same conversation, for a repair turn.
   */
  validate?: (value: T) => Promise<readonly string[]> | readonly string[];
  /** Repair turns after the first answer (default 1). */
  repairs?: number;
  /**
   * When an answer stops at `max_tokens`: the object's top-level keys in groups, one tool call
   * per group across turns of the same conversation; the groups together must cover the schema.
   * Without it a truncated answer throws `OutputTruncatedError` (never a schema repair).
   */
  split?: readonly (readonly string[])[];
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
  | { ok: true; value: T; toolUse: ToolUseBlock }
  | { ok: false; issues: string[]; toolUse: ToolUseBlock | undefined };

const capIssues = (lines: readonly string[]): string[] =>
  lines.length > MAX_ISSUES
    ? [...lines.slice(0, MAX_ISSUES), `…and ${lines.length - MAX_ISSUES} more`]
    : [...lines];

function formatIssues(error: z.ZodError): string[] {
  return capIssues(
    error.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
      return `${path}: ${issue.message}`;
    }),
  );
}

export async function check<T>(
  message: Message,
  toolName: string,
  schema: z.ZodType<T>,
  validate: StructuredCall<T>['validate'],
): Promise<Outcome<T>> {
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
  if (!parsed.success) return { ok: false, toolUse, issues: formatIssues(parsed.error) };
  const problems = validate === undefined ? [] : await validate(parsed.data);
  return problems.length === 0
    ? { ok: true, value: parsed.data, toolUse }
    : { ok: false, toolUse, issues: capIssues(problems) };
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

/**
 * The assistant's reply and the user's answer to it: a tool_use block must be answered by a
 * tool_result, so only the tool_use being answered (if any) is kept.
 */
function answerTurns(
  message: Message,
  toolUse: ToolUseBlock | undefined,
  feedback: string,
  isError: boolean,
): MessageParam[] {
  const assistant = message.content
    .flatMap((block) => asParam(block) ?? [])
    .filter((block) => block.type !== 'tool_use' || block.id === toolUse?.id);
  const turns: MessageParam[] =
    assistant.length > 0 ? [{ role: 'assistant', content: assistant }] : [];
  const user: ContentBlockParam = toolUse
    ? { type: 'tool_result', tool_use_id: toolUse.id, is_error: isError, content: feedback }
    : { type: 'text', text: feedback };
  turns.push({ role: 'user', content: [user] });
  return turns;
}

export async function repairTurns(
  message: Message,
  toolName: string,
  issues: readonly string[],
  toolUse: ToolUseBlock | undefined,
): Promise<MessageParam[]> {
  const feedback = await renderPrompt('structured-repair', {
    tool_name: toolName,
    issues: dataSection('issues', issues.map((issue) => `- ${issue}`).join('\n')),
  });
  return answerTurns(message, toolUse, feedback, true);
}

export async function systemFor<T>(call: StructuredCall<T>, forced: boolean, toolName: string) {
  if (forced) return call.system;
  const instruction: TextBlockParam = {
    type: 'text',
    text: await renderPrompt('structured-call-tool', { tool_name: toolName }),
  };
  if (call.system === undefined) return [instruction];
  const blocks: TextBlockParam[] =
    typeof call.system === 'string' ? [{ type: 'text', text: call.system }] : call.system;
  return [...blocks, instruction];
}

type Send = (messages: MessageParam[], tool: Tool) => Promise<Message>;

type Exchange<T> =
  | { done: true; value: T; input: unknown; conversation: MessageParam[]; reply: Message }
  | { done: false; truncated: Message; conversation: MessageParam[] };

/**
 * Asks until the tool input passes the schema and `validate`, with at most `repairs` repair turns
 * (each problem sent back as an error tool result). A reply cut at `max_tokens` is returned as
 * truncated, never repaired: its JSON is incomplete, not wrong.
 */
async function exchange<T>(
  send: Send,
  conversation: MessageParam[],
  tool: Tool,
  schema: z.ZodType<T>,
  tag: string,
  validate: StructuredCall<T>['validate'],
  repairs: number,
): Promise<Exchange<T>> {
  let messages = conversation;
  for (let attempt = 0; ; attempt++) {
    const reply = await send(messages, tool);
    if (reply.stop_reason === 'max_tokens') {
      return { done: false, truncated: reply, conversation: messages };
    }
    const outcome = await check(reply, tool.name, schema, validate);
    if (outcome.ok) {
      return {
        done: true,
        value: outcome.value,
        input: outcome.toolUse.input,
        conversation: messages,
        reply,
      };
    }
    if (attempt >= repairs) throw new InvalidModelOutputError(tag, outcome.issues, repairs);
    messages = [
      ...messages,
      ...(await repairTurns(reply, tool.name, outcome.issues, outcome.toolUse)),
    ];
  }
}

const fieldList = (fields: readonly string[]) => fields.join('+');

function toolUseOf(message: Message, name: string): ToolUseBlock | undefined {
  return message.content.find(
    (block): block is ToolUseBlock => block.type === 'tool_use' && block.name === name,
  );
}

/**
 * The answer of a call cut at `max_tokens`, asked again in parts in the same conversation: one
 * tool per group of top-level fields, each told what came before; the parts are joined and
 * checked against the whole schema.
 */
async function answerInParts<T>(
  call: StructuredCall<T>,
  send: Send,
  groups: readonly (readonly string[])[],
  truncated: Message,
  conversation: MessageParam[],
): Promise<T> {
  const schema = call.schema;
  if (!(schema instanceof z.ZodObject)) {
    throw new TypeError(`split needs an object schema (tool ${call.toolName})`);
  }
  const keys = Object.keys(schema.shape);
  const covered = new Set(groups.flat());
  if (keys.some((k) => !covered.has(k)) || [...covered].some((k) => !keys.includes(k))) {
    throw new TypeError(
      `split groups of ${call.toolName} must cover exactly its fields ${keys.join(', ')}`,
    );
  }
  const parts = groups.map((fields, i) => {
    const partSchema = schema.pick(
      Object.fromEntries(fields.map((f) => [f, true])) as Record<string, true>,
    );
    return {
      fields,
      schema: partSchema,
      tool: {
        name: `${call.toolName}_part_${i + 1}_of_${groups.length}`,
        description: `Part ${i + 1} of ${groups.length} of ${call.toolName}: only ${fields.join(', ')}`,
        input_schema: toolInputSchema(partSchema),
      } satisfies Tool,
    };
  });
  const first = parts[0];
  if (first === undefined) throw new TypeError(`split of ${call.toolName} has no groups`);
  const intro = await renderPrompt('structured-split', {
    tool_name: call.toolName,
    max_tokens: String(call.maxTokens),
    parts: dataSection(
      'parts',
      parts.map((p) => `- ${p.tool.name}: ${p.fields.join(', ')}`).join('\n'),
    ),
    next_tool: first.tool.name,
    next_fields: fieldList(first.fields),
  });
  // the cut input is dropped (the parts replace it): resending it would cost up to maxTokens
  // of context on every part
  const cut = toolUseOf(truncated, call.toolName);
  const emptied: Message = {
    ...truncated,
    content: truncated.content.map((block) => (block === cut ? { ...block, input: {} } : block)),
  };
  let messages = [...conversation, ...answerTurns(emptied, cut, intro, true)];
  const joined: Record<string, unknown> = {};
  for (const [i, part] of parts.entries()) {
    const result = await exchange(
      send,
      messages,
      part.tool,
      part.schema,
      call.tag,
      undefined,
      call.repairs ?? 1,
    );
    if (!result.done) {
      throw new OutputTruncatedError(
        call.tag,
        call.maxTokens,
        `part ${i + 1} of ${parts.length} of ${call.toolName}, ${part.fields.join(', ')}`,
      );
    }
    Object.assign(joined, result.input);
    const next = parts[i + 1];
    if (next === undefined) break;
    const ack = await renderPrompt('structured-next-part', {
      next_tool: next.tool.name,
      next_fields: fieldList(next.fields),
    });
    messages = [
      ...result.conversation,
      ...answerTurns(result.reply, toolUseOf(result.reply, part.tool.name), ack, false),
    ];
  }
  const parsed = schema.safeParse(joined);
  if (!parsed.success) throw new InvalidModelOutputError(call.tag, formatIssues(parsed.error), 0);
  const problems = call.validate === undefined ? [] : await call.validate(parsed.data as T);
  if (problems.length > 0) throw new InvalidModelOutputError(call.tag, capIssues(problems), 0);
  return parsed.data as T;
}

/**
 * Structured output through a tool call: the model must call `toolName` (forced where the model
 * allows it, instructed otherwise), whose input schema is generated from `schema`, and the input is
 * validated with the same schema and then `validate`. Each failure goes back to the model as an
 * error tool result for a repair turn (`repairs`, default 1); the last failure throws
 * `InvalidModelOutputError`. A reply cut at `max_tokens` is asked again in parts (`split`) or
 * throws `OutputTruncatedError`.
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
  const meta = { tag: call.tag, ...(call.signal ? { signal: call.signal } : {}) };
  const send: Send = async (messages, offered) => {
    const system = await systemFor(call, forced, offered.name);
    const toolChoice: ToolChoice = forced ? { type: 'tool', name: offered.name } : { type: 'auto' };
    const request: MessageCreateParamsNonStreaming = withCacheMarks(
      {
        model: call.model,
        max_tokens: call.maxTokens,
        ...(system === undefined ? {} : { system }),
        messages,
        tools: [offered],
        tool_choice: toolChoice,
      },
      call.cache,
    );
    return call.client.create(request, meta);
  };

  const result = await exchange(
    send,
    call.messages,
    tool,
    call.schema,
    call.tag,
    call.validate,
    call.repairs ?? 1,
  );
  if (result.done) return result.value;
  if (call.split === undefined) {
    throw new OutputTruncatedError(call.tag, call.maxTokens, `a call to ${call.toolName}`);
  }
  return answerInParts(call, send, call.split, result.truncated, result.conversation);
}
