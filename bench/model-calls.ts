import { type Usage, zeroUsage } from '../src/model/usage.js';

/**
 * Records every Messages API call a process makes, as the client saw it: when it started and
 * when its answer was fully read (`performance.now()`), what it offered and the usage it got.
 * Wraps a `fetch`; in-process CLI runs build their clients from `globalThis.fetch`, so
 * `recordGlobalFetch` swaps that one for the duration of a run.
 */

export interface ModelCall {
  start: number;
  end: number;
  model: string;
  /** Names of the tools offered: a chain role's structured-output tool, or a trial's tools. */
  tools: string[];
  /** Assistant messages in the request + 1: 1 for a first call, 2 for a repair or a 2nd turn. */
  turn: number;
  status: number;
  /** Null when the answer was not a JSON message (an error, a stream). */
  usage: Usage | null;
}

interface RequestBody {
  model?: unknown;
  tools?: Array<{ name?: unknown }>;
  messages?: Array<{ role?: unknown }>;
}

function parseBody(body: unknown): RequestBody | null {
  if (typeof body !== 'string') return null;
  try {
    return JSON.parse(body) as RequestBody;
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}

function usageOf(text: string): Usage | null {
  let parsed: { usage?: Partial<Usage> };
  try {
    parsed = JSON.parse(text) as { usage?: Partial<Usage> };
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  if (parsed.usage === undefined) return null;
  const u = parsed.usage;
  return {
    ...zeroUsage(),
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
  };
}

const isMessages = (input: Parameters<typeof fetch>[0]) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return new URL(url).pathname === '/v1/messages';
};

/** A fetch that records each `/v1/messages` call into `calls` (other paths pass through). */
export function recordingFetch(base: typeof fetch, calls: ModelCall[]): typeof fetch {
  return async (input, init) => {
    if (!isMessages(input)) return base(input, init);
    const body = parseBody(init?.body);
    const call: ModelCall = {
      start: performance.now(),
      end: Number.NaN,
      model: typeof body?.model === 'string' ? body.model : '?',
      tools: (body?.tools ?? []).map((t) => String(t.name)),
      turn: (body?.messages ?? []).filter((m) => m.role === 'assistant').length + 1,
      status: 0,
      usage: null,
    };
    calls.push(call);
    const response = await base(input, init);
    call.status = response.status;
    const text = await response.clone().text();
    call.end = performance.now();
    if (response.ok && (response.headers.get('content-type') ?? '').includes('json')) {
      call.usage = usageOf(text);
    }
    return response;
  };
}

/** Records the calls of every client created from `globalThis.fetch` until `restore()`. */
export function recordGlobalFetch(): { calls: ModelCall[]; restore(): void } {
  const original = globalThis.fetch;
  const calls: ModelCall[] = [];
  globalThis.fetch = recordingFetch(original, calls);
  return {
    calls,
    restore() {
      globalThis.fetch = original;
    },
  };
}
