import type { RequestView } from './request.js';
import { type Rule, type RuleConditions, regexLiteral, ruleLabel, type Script } from './script.js';

/**
 * Picks the rule that answers a request. Stateful: it counts how often each rule answered
 * (`times`) and numbers turn-1 requests per conversation key (`nth`, `every`). Selection is
 * synchronous, so counts do not depend on how concurrent requests interleave later.
 */

export interface RuleMatch {
  index: number;
  label: string;
  rule: Rule;
  /** Named groups of `when.matches`, for `{{name}}` in the reply. */
  captures: Record<string, string>;
}

/** Request facts that come from headers rather than the body. */
export interface RequestMeta {
  /** `x-stainless-retry-count` (0 for a first attempt). */
  retryCount: number;
  /** `x-claude-code-session-id` or `x-session-id`, when sent. */
  sessionId: string | null;
  /** `x-skill-optimizer-trial`: the bench trial, when a runner sent it. */
  trial: string | null;
}

const listOf = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v;

function modelMatches(pattern: string, model: string): boolean {
  const regex = regexLiteral(pattern);
  return regex === null ? pattern === model : regex.test(model);
}

function turnMatches(turn: RuleConditions['turn'], actual: number): boolean {
  if (turn === undefined) return true;
  if (typeof turn === 'number') return turn === actual;
  return actual >= (turn.min ?? 1) && actual <= (turn.max ?? Number.POSITIVE_INFINITY);
}

function ordinalMatches(when: RuleConditions, ordinal: number | null): boolean {
  if (when.nth === undefined && when.every === undefined) return true;
  if (ordinal === null) return false;
  if (when.nth !== undefined && !when.nth.includes(ordinal)) return false;
  if (when.every !== undefined && (ordinal - 1) % when.every.of >= when.every.n) return false;
  return true;
}

/** Captures when every condition holds, else null. */
function conditionsHold(
  when: RuleConditions,
  view: RequestView,
  ordinal: number | null,
  meta: RequestMeta,
): Record<string, string> | null {
  if (when.trial !== undefined && when.trial !== meta.trial) return null;
  if (when.digest !== undefined && when.digest !== view.digest) return null;
  if (when.model !== undefined && !modelMatches(when.model, view.model)) return null;
  if (!turnMatches(when.turn, view.turn)) return null;
  if (!ordinalMatches(when, ordinal)) return null;
  if (!listOf(when.system_contains).every((s) => view.systemText.includes(s))) return null;
  if (!listOf(when.last_user_contains).every((s) => view.lastUserText.includes(s))) return null;
  if (!listOf(when.contains).every((s) => view.allText.includes(s))) return null;
  if (listOf(when.not_contains).some((s) => view.allText.includes(s))) return null;
  if (!listOf(when.tool_offered).every((t) => view.toolNames.has(t))) return null;
  if (listOf(when.tool_not_offered).some((t) => view.toolNames.has(t))) return null;
  if (when.matches === undefined) return {};
  const found = new RegExp(when.matches).exec(view.allText);
  if (found === null) return null;
  const captures: Record<string, string> = {};
  for (const [name, value] of Object.entries(found.groups ?? {})) captures[name] = value ?? '';
  return captures;
}

export class RuleBook {
  readonly #used: number[];
  /** Conversation key → turn-1 requests numbered so far. */
  readonly #ordinals = new Map<string, number>();
  /** Session id + conversation key → the ordinal that session got. */
  readonly #sessionOrdinals = new Map<string, number>();

  constructor(private readonly script: Script) {
    this.#used = script.rules.map(() => 0);
  }

  /**
   * The ordinal of a turn-1 request within its conversation key. A session's later requests
   * (e.g. retries) keep the ordinal it got first; an anonymous retry gets none, so it never
   * matches `nth`/`every`.
   */
  #ordinal(view: RequestView, meta: RequestMeta): number | null {
    if (view.turn !== 1) return null;
    const sessionKey =
      meta.sessionId === null ? null : `${meta.sessionId}\n${view.conversationKey}`;
    const known = sessionKey === null ? undefined : this.#sessionOrdinals.get(sessionKey);
    if (known !== undefined) return known;
    if (meta.retryCount > 0 && sessionKey === null) return null;
    const next = (this.#ordinals.get(view.conversationKey) ?? 0) + 1;
    this.#ordinals.set(view.conversationKey, next);
    if (sessionKey !== null) this.#sessionOrdinals.set(sessionKey, next);
    return next;
  }

  /** The first rule that holds and is not used up; consumes one of its `times`. */
  select(view: RequestView, meta: RequestMeta): RuleMatch | null {
    const ordinal = this.#ordinal(view, meta);
    for (const [index, rule] of this.script.rules.entries()) {
      if (rule.times !== undefined && (this.#used[index] ?? 0) >= rule.times) continue;
      const captures = conditionsHold(rule.when ?? {}, view, ordinal, meta);
      if (captures === null) continue;
      this.#used[index] = (this.#used[index] ?? 0) + 1;
      return { index, label: ruleLabel(this.script, index), rule, captures };
    }
    return null;
  }
}
