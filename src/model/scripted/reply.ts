import { randomBytes } from 'node:crypto';
import { estimateTokens, type InputUsage } from './cache.js';
import type { ReplySpec } from './reply-schema.js';

/** Builds the Messages API `Message` a scripted reply stands for. */

export type ReplyBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface ReplyUsage extends InputUsage {
  output_tokens: number;
  server_tool_use: null;
  service_tier: 'standard';
}

export interface ReplyMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ReplyBlock[];
  stop_reason: string;
  stop_sequence: null;
  stop_details: null;
  container: null;
  usage: ReplyUsage;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `prefix` + 24 random base62 characters, the shape of the API's ids. */
export function newId(prefix: string): string {
  const bytes = randomBytes(24);
  let out = prefix;
  for (const byte of bytes) out += BASE62[byte % 62];
  return out;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

/** Replaces `{{name}}` in every string under `value` with the capture of that name. */
export function fillPlaceholders<T>(value: T, captures: Record<string, string>): T {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (whole, name: string) => captures[name] ?? whole) as T;
  }
  if (Array.isArray(value)) return value.map((v) => fillPlaceholders(v, captures)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, captures)]),
    ) as T;
  }
  return value;
}

export function buildReply(
  spec: ReplySpec,
  captures: Record<string, string>,
  model: string,
  input: InputUsage,
): ReplyMessage {
  const content: ReplyBlock[] = spec.content.map((block) =>
    block.type === 'text'
      ? { type: 'text', text: fillPlaceholders(block.text, captures) }
      : {
          type: 'tool_use',
          id: newId('toolu_01'),
          name: block.name,
          input: fillPlaceholders(block.input, captures),
        },
  );
  const hasToolUse = content.some((b) => b.type === 'tool_use');
  const outputText = content
    .map((b) => (b.type === 'text' ? b.text : `${b.name}${JSON.stringify(b.input)}`))
    .join('');
  const overrides = spec.usage ?? {};
  return {
    id: newId('msg_01'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: spec.stop_reason ?? (hasToolUse ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: {
      ...input,
      ...overrides,
      output_tokens: overrides.output_tokens ?? Math.max(1, estimateTokens(outputText)),
      server_tool_use: null,
      service_tier: 'standard',
    },
  };
}
