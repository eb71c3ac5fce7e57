import type { MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import { tokensAtMost } from './cache-rules.js';

/**
 * Context windows in tokens, by model id or family prefix (matched like prices: the longest key
 * the id starts with). Every Claude model in the price table has at least a 200,000-token window
 * on the standard Messages API; larger windows need a beta header this client does not send, so
 * 200,000 is the window the chain may count on.
 */
export const CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  claude: 200_000,
};

/** The window of a model id not in the table: the smallest window of any current Claude model. */
export const DEFAULT_CONTEXT_WINDOW = 200_000;

const PROVIDER_PREFIX = /^([a-z]{2,4}\.)?anthropic\./;

export function contextWindowOf(model: string): number {
  const id = model.trim().toLowerCase().replace(PROVIDER_PREFIX, '');
  let best: string | undefined;
  for (const key of Object.keys(CONTEXT_WINDOWS)) {
    if (id.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined
    ? DEFAULT_CONTEXT_WINDOW
    : (CONTEXT_WINDOWS[best] ?? DEFAULT_CONTEXT_WINDOW);
}

/**
 * A conservative token count: one token per 3 bytes of UTF-8 (`tokensAtMost`, whose error
 * bounds cache-rules.ts states). Claude's tokenizer averages about 3.5–4 characters a token on
 * English prose and code, so ASCII text is over-counted by 15–25%; a CJK character (3 bytes)
 * counts as one token, and an emoji (4 bytes) as two.
 */
export const estimateTokens = tokensAtMost;

/** Estimated input tokens of a whole request: system, tools and messages as sent (JSON). */
export function estimateRequestTokens(
  request: Pick<MessageCreateParamsNonStreaming, 'system' | 'tools' | 'messages'>,
): number {
  return estimateTokens(
    JSON.stringify([request.system ?? '', request.tools ?? [], request.messages]),
  );
}

/** The input tokens a role may use: `share` of the model's context window. */
export function contextBudget(model: string, share: number): number {
  return Math.floor(contextWindowOf(model) * share);
}
