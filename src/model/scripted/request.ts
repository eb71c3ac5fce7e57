import { createHash } from 'node:crypto';
import { z } from 'zod';
import { requestDigest } from './digest.js';

/**
 * The parts of a Messages API request the scripted server reads, and the texts its rules match on.
 * Validation is loose on purpose: clients send many fields the server has no use for.
 */

const blockSchema = z.looseObject({ type: z.string() });
const contentSchema = z.union([z.string(), z.array(blockSchema)]);

export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.string(), content: contentSchema })),
  system: contentSchema.optional(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  stream: z.boolean().optional(),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type ContentBlock = z.infer<typeof blockSchema>;

/** Keys whose string values are plumbing, not text a rule should match on. */
const NON_TEXT_KEYS = new Set(['type', 'id', 'tool_use_id', 'cache_control', 'signature']);

/** Every string value under `value` (keys excluded), in order, joined by newlines. */
export function textOf(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v)) if (!NON_TEXT_KEYS.has(key)) walk(inner);
    }
  };
  walk(value);
  return out.join('\n');
}

/** The content of a message or system prompt as blocks (a string is one text block). */
export function blocksOf(content: MessagesRequest['system']): ContentBlock[] {
  if (content === undefined) return [];
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** What rules look at, computed once per request. */
export interface RequestView {
  model: string;
  /** The `system` field plus any `role: "system"` messages. */
  systemText: string;
  /** The last `role: "user"` message, tool_result content included. */
  lastUserText: string;
  /** System, tools and messages. */
  allText: string;
  toolNames: Set<string>;
  /** Assistant messages in the request + 1. */
  turn: number;
  /** Hash of model + `system` field + first user message: equal for trials of one probe. */
  conversationKey: string;
  /** The replay key (`requestDigest`); computed on first read, as only recordings use it. */
  readonly digest: string;
}

export function viewRequest(req: MessagesRequest): RequestView {
  const systemMessages = req.messages.filter((m) => m.role === 'system');
  const userMessages = req.messages.filter((m) => m.role === 'user');
  const topSystem = textOf(req.system ?? '');
  const firstUser = textOf(userMessages[0]?.content ?? '');
  let digest: string | undefined;
  return {
    model: req.model,
    systemText: [topSystem, ...systemMessages.map((m) => textOf(m.content))].join('\n'),
    lastUserText: textOf(userMessages.at(-1)?.content ?? ''),
    allText: textOf([req.system ?? '', req.tools ?? [], req.messages]),
    toolNames: new Set((req.tools ?? []).map((t) => t.name)),
    turn: req.messages.filter((m) => m.role === 'assistant').length + 1,
    conversationKey: createHash('sha256')
      .update(JSON.stringify([req.model, topSystem, firstUser]))
      .digest('hex'),
    get digest() {
      digest ??= requestDigest({
        model: req.model,
        system: topSystem,
        tools: (req.tools ?? []).map((t) => t.name),
        messages: req.messages.map((m) => [m.role, textOf(m.content)]),
      });
      return digest;
    },
  };
}
