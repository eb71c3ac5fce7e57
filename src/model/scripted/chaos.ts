import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { z } from 'zod';
import { newId, type ReplyBlock, type ReplyMessage } from './reply.js';
import type { MessagesRequest, RequestView } from './request.js';

/**
 * Chaos mode: the scripted server answers a seeded share of requests the way a real API and a
 * real model sometimes do — transport faults, JSON in prose or code fences instead of a tool
 * call, missing optional and extra fields, near-miss edits, `max_tokens` stops and refusals.
 *
 * Deterministic: whether and how a request is disturbed is a hash of the seed, the request's
 * text (server-made ids and temporary paths left out) and how often that text was seen before,
 * so the same seed and the same requests give the same disturbances however they interleave.
 * A disturbed structured answer is remembered; the client's repair turn gets the clean answer.
 */

export const TRANSPORT_KINDS = ['429', '529', '500', 'truncated', 'stall'] as const;
export const CONTENT_KINDS = [
  'prose',
  'fence',
  'missing-optional',
  'extra-field',
  'near-miss-edit',
  'max-tokens',
  'refusal',
] as const;
export type TransportKind = (typeof TRANSPORT_KINDS)[number];
export type ContentKind = (typeof CONTENT_KINDS)[number];
export type ChaosKind = TransportKind | ContentKind;

export const chaosSchema = z.strictObject({
  seed: z.int(),
  /** Share of requests disturbed, 0 to 1. */
  rate: z.number().min(0).max(1).default(0.2),
  /** The disturbances to draw from; all by default. */
  kinds: z
    .array(z.enum([...TRANSPORT_KINDS, ...CONTENT_KINDS]))
    .min(1)
    .optional(),
  /** How long a stall sends nothing before the server drops the connection. */
  stall_ms: z.int().positive().default(200),
  /** The wait a chaos 429 asks for. */
  retry_after_ms: z.int().nonnegative().default(20),
});
export type ChaosSettings = z.infer<typeof chaosSchema>;

const isTransport = (kind: ChaosKind): kind is TransportKind =>
  (TRANSPORT_KINDS as readonly string[]).includes(kind);

/** Uniform in [0, 1) from a hash of the parts. */
function draw(...parts: Array<string | number>): number {
  const digest = createHash('sha256').update(parts.join('\n')).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

const TMP = new RegExp(`${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[^/\\s"']+`, 'g');

/** The request's text with what differs between identical runs (temporary folders) left out. */
function fingerprint(view: RequestView): string {
  return createHash('sha256')
    .update(`${view.model}\n${view.allText.replace(TMP, '<tmp>')}`)
    .digest('hex');
}

/** A structured call: one tool offered and `tool_choice` set (the chain's calls, not trials). */
function structuredTool(request: MessagesRequest): { name: string; required: string[] } | null {
  const tools = request.tools ?? [];
  const tool = tools[0];
  if (tools.length !== 1 || tool === undefined || request.tool_choice === undefined) return null;
  const schema = tool.input_schema as { required?: unknown } | undefined;
  const required = Array.isArray(schema?.required) ? schema.required.map(String) : [];
  return { name: tool.name, required };
}

type ToolUse = Extract<ReplyBlock, { type: 'tool_use' }>;

/** One line off in a unified diff's hunk header, or a doubled space in an edit's old text. */
function nearMiss(value: unknown, key = ''): { value: unknown; changed: boolean } {
  if (typeof value === 'string') {
    const header = /^@@ -(\d+),(\d+) /m.exec(value);
    if (header) {
      const off = `@@ -${header[1]},${Number(header[2]) + 1} `;
      return { value: value.replace(header[0], off), changed: true };
    }
    if (/^(old|old_text|old_string|find|search)$/.test(key) && value.includes(' ')) {
      return { value: value.replace(' ', '  '), changed: true };
    }
    return { value, changed: false };
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      if (changed) return item;
      const next = nearMiss(item);
      changed = next.changed;
      return next.value;
    });
    return { value: out, changed };
  }
  if (value !== null && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (changed) {
        out[k] = v;
        continue;
      }
      const next = nearMiss(v, k);
      changed = next.changed;
      out[k] = next.value;
    }
    return { value: out, changed };
  }
  return { value, changed: false };
}

/** The tool input disturbed one way, or null when that way does not apply to it. */
function disturbInput(
  kind: 'missing-optional' | 'extra-field' | 'near-miss-edit' | 'max-tokens',
  input: Record<string, unknown>,
  required: string[],
): Record<string, unknown> | null {
  switch (kind) {
    case 'missing-optional': {
      const optional = Object.keys(input).find((k) => !required.includes(k));
      if (optional === undefined) return null;
      const { [optional]: _dropped, ...rest } = input;
      return rest;
    }
    case 'extra-field':
      return { ...input, confidence_note: 'I am fairly sure about this answer.' };
    case 'near-miss-edit': {
      const next = nearMiss(input);
      return next.changed ? (next.value as Record<string, unknown>) : null;
    }
    case 'max-tokens': {
      const keys = Object.keys(input);
      return Object.fromEntries(
        keys.slice(0, Math.floor(keys.length / 2)).map((k) => [k, input[k]]),
      );
    }
  }
}

function withContent(
  message: ReplyMessage,
  content: ReplyBlock[],
  stopReason: string,
): ReplyMessage {
  return { ...message, content, stop_reason: stopReason };
}

/** The reply disturbed by a content kind; null when the kind does not apply to this reply. */
export function disturbReply(
  kind: ContentKind,
  message: ReplyMessage,
  tool: { name: string; required: string[] },
): ReplyMessage | null {
  const use = message.content.find(
    (b): b is ToolUse => b.type === 'tool_use' && b.name === tool.name,
  );
  if (use === undefined) return null;
  const json = JSON.stringify(use.input, null, 2);
  switch (kind) {
    case 'prose':
      return withContent(
        message,
        [{ type: 'text', text: `Here is the result:\n${json}\nLet me know if you need more.` }],
        'end_turn',
      );
    case 'fence':
      return withContent(
        message,
        [{ type: 'text', text: `\`\`\`json\n${json}\n\`\`\`` }],
        'end_turn',
      );
    case 'refusal':
      return withContent(
        message,
        [{ type: 'text', text: "I'm sorry, but I can't help with that request." }],
        'refusal',
      );
    default: {
      const input = disturbInput(kind, use.input, tool.required);
      if (input === null) return null;
      const block: ToolUse = { ...use, id: newId('toolu_01'), input };
      return withContent(message, [block], kind === 'max-tokens' ? 'max_tokens' : 'tool_use');
    }
  }
}

/** How a request is answered under chaos. */
export type ChaosPlan =
  | { kind: 'none' }
  | { kind: 'transport'; fault: TransportKind }
  | { kind: 'repair'; reply: ReplyMessage }
  | { kind: 'content'; disturb: ContentKind; tool: { name: string; required: string[] } };

/** The assistant turn as a request carries it back (ids kept: they make the key unique). */
function turnKey(conversationKey: string, content: unknown): string {
  const blocks = Array.isArray(content) ? content : [{ type: 'text', text: String(content) }];
  const essential = blocks.map((b: Record<string, unknown>) =>
    b.type === 'tool_use' ? ['tool_use', b.id] : [String(b.type), b.text ?? null],
  );
  return `${conversationKey}\n${JSON.stringify(essential)}`;
}

export class Chaos {
  readonly #seen = new Map<string, number>();
  /** Disturbed answers not yet repaired → the clean answer to give the repair turn. */
  readonly #clean = new Map<string, ReplyMessage>();
  readonly #kinds: readonly ChaosKind[];

  constructor(readonly settings: ChaosSettings) {
    this.#kinds = settings.kinds ?? [...TRANSPORT_KINDS, ...CONTENT_KINDS];
  }

  /** Decides how to answer a request; counts it, so call once per request. */
  plan(request: MessagesRequest, view: RequestView): ChaosPlan {
    const print = fingerprint(view);
    const occurrence = (this.#seen.get(print) ?? 0) + 1;
    this.#seen.set(print, occurrence);
    const seed = this.settings.seed;
    const tool = structuredTool(request);
    const kinds = this.#kinds.filter((k) => isTransport(k) || tool !== null);
    const kind = kinds[Math.floor(draw(seed, print, occurrence, 'kind') * kinds.length)];
    const disturbed =
      kind !== undefined && draw(seed, print, occurrence, 'rate') < this.settings.rate;
    if (disturbed && isTransport(kind)) return { kind: 'transport', fault: kind };
    const repair = this.#repairFor(request, view);
    if (repair !== null) return { kind: 'repair', reply: repair };
    if (disturbed && !isTransport(kind) && tool !== null) {
      return { kind: 'content', disturb: kind, tool };
    }
    return { kind: 'none' };
  }

  /** Keeps the clean answer for the repair turn that will quote the disturbed one. */
  remember(view: RequestView, disturbed: ReplyMessage, clean: ReplyMessage): void {
    this.#clean.set(turnKey(view.conversationKey, disturbed.content), clean);
  }

  #repairFor(request: MessagesRequest, view: RequestView): ReplyMessage | null {
    const assistant = request.messages.at(-2);
    if (assistant?.role !== 'assistant') return null;
    const key = turnKey(view.conversationKey, assistant.content);
    const clean = this.#clean.get(key);
    if (clean === undefined) return null;
    this.#clean.delete(key);
    return {
      ...clean,
      id: newId('msg_01'),
      content: clean.content.map((b) =>
        b.type === 'tool_use' ? { ...b, id: newId('toolu_01') } : b,
      ),
    };
  }
}

export const chaosLabel = (kind: ChaosKind) => `chaos: ${kind}`;
