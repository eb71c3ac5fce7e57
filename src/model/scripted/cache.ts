import { createHash } from 'node:crypto';
import { blocksOf, type ContentBlock, type MessagesRequest } from './request.js';

/**
 * Token estimates and a prompt-caching simulation for the scripted server.
 *
 * The request is read as one sequence of blocks in the API's order (tools → system → messages).
 * Each block marked with `cache_control` is a breakpoint; the prefix ending at a breakpoint is
 * identified by a hash chain over the blocks (seeded with the model). The longest prefix an
 * earlier request marked, seen within its TTL, is a cache read; the rest up to the last
 * breakpoint is a cache write; what follows the last breakpoint is plain input.
 */

export const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000;
const ONE_HOUR_MS = 60 * 60 * 1000;

/** Deterministic token estimate: a quarter of the characters, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export interface InputUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

interface PrefixBlock {
  /** Canonical JSON of the block without its cache mark. */
  json: string;
  tokens: number;
  /** TTL of the cache mark on this block; null when unmarked. */
  ttlMs: number | null;
}

function markTtl(block: ContentBlock | { cache_control?: unknown }): number | null {
  const mark = block.cache_control;
  if (mark === undefined || mark === null || typeof mark !== 'object') return null;
  return (mark as { ttl?: unknown }).ttl === '1h' ? ONE_HOUR_MS : DEFAULT_CACHE_TTL_MS;
}

function prefixBlock(block: object, extra: Record<string, unknown> = {}): PrefixBlock {
  const { cache_control: _mark, ...rest } = block as Record<string, unknown>;
  const json = JSON.stringify({ ...extra, ...rest });
  return { json, tokens: estimateTokens(json), ttlMs: markTtl(block) };
}

/** The request as blocks in prefix order: tools, then system, then each message's content. */
export function prefixBlocks(req: MessagesRequest): PrefixBlock[] {
  return [
    ...(req.tools ?? []).map((tool) => prefixBlock(tool)),
    ...blocksOf(req.system).map((block) => prefixBlock(block)),
    ...req.messages.flatMap((m) =>
      blocksOf(m.content).map((b) => prefixBlock(b, { role: m.role })),
    ),
  ];
}

/** Estimated input tokens of a whole request (what count_tokens answers). */
export function countInputTokens(req: MessagesRequest): number {
  return prefixBlocks(req).reduce((sum, b) => sum + b.tokens, 0);
}

interface Breakpoint {
  /** Position of the marked block. */
  index: number;
  /** Tokens from the start of the request up to and including this block. */
  tokens: number;
  ttlMs: number;
}

interface Entry {
  expiry: number;
  ttlMs: number;
}

export class PromptCache {
  /** Hash of a cached prefix → when it expires. */
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly now: () => number) {}

  /**
   * Splits a request's input tokens into uncached, cache write and cache read. The read is the
   * longest prefix (up to the last breakpoint) that an earlier request wrote and that has not
   * expired; a read refreshes its TTL; every breakpoint of this request is written.
   */
  account(req: MessagesRequest): InputUsage {
    const blocks = prefixBlocks(req);
    const hashes: string[] = [];
    const cumulative: number[] = [];
    const breakpoints: Breakpoint[] = [];
    let hash = createHash('sha256').update(req.model).digest('hex');
    let tokens = 0;
    for (const [index, block] of blocks.entries()) {
      hash = createHash('sha256').update(hash).update('\n').update(block.json).digest('hex');
      tokens += block.tokens;
      hashes.push(hash);
      cumulative.push(tokens);
      if (block.ttlMs !== null) breakpoints.push({ index, tokens, ttlMs: block.ttlMs });
    }
    const last = breakpoints.at(-1);
    const creation = { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 };
    if (last === undefined) {
      return {
        input_tokens: tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: creation,
      };
    }

    const now = this.now();
    for (const [key, entry] of this.#entries) if (entry.expiry <= now) this.#entries.delete(key);
    let hit = -1;
    for (let i = last.index; i >= 0 && hit < 0; i--)
      if (this.#entries.has(hashes[i] ?? '')) hit = i;
    const read = hit < 0 ? 0 : (cumulative[hit] ?? 0);
    const hitEntry = this.#entries.get(hashes[hit] ?? '');
    if (hitEntry !== undefined) hitEntry.expiry = now + hitEntry.ttlMs;

    let covered = read;
    for (const b of breakpoints) {
      if (b.tokens > covered) {
        if (b.ttlMs === ONE_HOUR_MS) creation.ephemeral_1h_input_tokens += b.tokens - covered;
        else creation.ephemeral_5m_input_tokens += b.tokens - covered;
        covered = b.tokens;
      }
      const key = hashes[b.index] ?? '';
      const known = this.#entries.get(key);
      const ttlMs = Math.max(known?.ttlMs ?? 0, b.ttlMs);
      this.#entries.set(key, { expiry: Math.max(known?.expiry ?? 0, now + b.ttlMs), ttlMs });
    }
    return {
      input_tokens: tokens - last.tokens,
      cache_creation_input_tokens: last.tokens - read,
      cache_read_input_tokens: read,
      cache_creation: creation,
    };
  }
}
