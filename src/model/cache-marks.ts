import type {
  CacheControlEphemeral,
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  TextBlockParam,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';

import { MAX_CACHE_BREAKPOINTS } from './cache-rules.js';

export { MAX_CACHE_BREAKPOINTS };

const EPHEMERAL: CacheControlEphemeral = { type: 'ephemeral' };

export interface CacheMarkOptions {
  /**
   * Messages whose content is a prefix shared with other calls (the skill under test, shared
   * inputs of parallel subagents, the conversation so far in a tool loop). Negative indexes count
   * from the end: `-1` is the last message.
   */
  sharedPrefixMessages?: readonly number[];
}

type Markable = { cache_control?: CacheControlEphemeral | null };

const isMarked = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  'cache_control' in value &&
  (value as Markable).cache_control != null;

const canMark = (block: ContentBlockParam): boolean =>
  block.type !== 'thinking' && block.type !== 'redacted_thinking';

function contentOf(message: MessageParam): readonly unknown[] {
  return typeof message.content === 'string' ? [] : message.content;
}

function countMarks(params: MessageCreateParamsBase): number {
  const system = typeof params.system === 'string' ? [] : (params.system ?? []);
  const blocks = [
    ...(params.tools ?? []),
    ...system,
    ...params.messages.flatMap((message) => contentOf(message)),
  ];
  return blocks.filter(isMarked).length;
}

function markSystem(system: string | TextBlockParam[]): TextBlockParam[] {
  if (typeof system === 'string') return [{ type: 'text', text: system, cache_control: EPHEMERAL }];
  return system.map((block, i) =>
    i === system.length - 1 ? { ...block, cache_control: EPHEMERAL } : block,
  );
}

/** Marks the last block of a message that can carry a breakpoint (thinking blocks cannot). */
function markMessage<M extends MessageParam>(message: M): M {
  if (typeof message.content === 'string') {
    return {
      ...message,
      content: [{ type: 'text', text: message.content, cache_control: EPHEMERAL }],
    };
  }
  const blocks = message.content as ContentBlockParam[];
  let target = -1;
  for (let i = blocks.length - 1; i >= 0; i--) {
    const block = blocks[i];
    if (block && canMark(block)) {
      target = i;
      break;
    }
  }
  if (target < 0) return message;
  const content = blocks.map((block, i) =>
    i === target ? ({ ...block, cache_control: EPHEMERAL } as ContentBlockParam) : block,
  );
  return { ...message, content };
}

function lastMarkable(message: MessageParam): unknown {
  if (typeof message.content === 'string') return undefined;
  const blocks = message.content as ContentBlockParam[];
  return [...blocks].reverse().find(canMark);
}

const hasText = (system: MessageCreateParamsBase['system']): boolean =>
  typeof system === 'string' ? system.length > 0 : (system?.length ?? 0) > 0;

/**
 * Adds `cache_control: {type: 'ephemeral'}` (5-minute cache) to the content that repeats across
 * calls, in prefix order: the last tool definition, the last system block, then the last block of
 * each designated shared-prefix message. Breakpoints the caller set are kept and counted; no more
 * than `MAX_CACHE_BREAKPOINTS` are ever present. Returns a new params object; the input is not
 * changed.
 */
export function withCacheMarks<P extends MessageCreateParamsBase>(
  params: P,
  options: CacheMarkOptions = {},
): P {
  let budget = MAX_CACHE_BREAKPOINTS - countMarks(params);
  const next: P = { ...params };

  const tools = params.tools;
  const lastTool = tools?.[tools.length - 1];
  if (tools && lastTool && !isMarked(lastTool) && budget > 0) {
    next.tools = [...tools.slice(0, -1), { ...lastTool, cache_control: EPHEMERAL } as ToolUnion];
    budget--;
  }

  const system = params.system;
  if (system !== undefined && hasText(system) && budget > 0) {
    const last = typeof system === 'string' ? undefined : system[system.length - 1];
    if (!isMarked(last)) {
      next.system = markSystem(system);
      budget--;
    }
  }

  const count = params.messages.length;
  const indexes = [
    ...new Set((options.sharedPrefixMessages ?? []).map((i) => (i < 0 ? count + i : i))),
  ]
    .filter((i) => i >= 0 && i < count)
    .sort((a, b) => a - b);
  if (indexes.length > 0) {
    const messages = [...params.messages];
    for (const i of indexes) {
      const message = messages[i];
      if (!message || budget <= 0 || isMarked(lastMarkable(message))) continue;
      const marked = markMessage(message);
      if (marked !== message) {
        messages[i] = marked;
        budget--;
      }
    }
    next.messages = messages;
  }
  return next;
}
