import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type {
  Message,
  MessageCreateParamsNonStreaming,
  Usage as SdkUsage,
} from '@anthropic-ai/sdk/resources/messages';
import { ModelUnavailableError, SkillOptimizerError } from '../errors.js';
import { CostLedger, type LedgerEntry } from './ledger.js';
import type { PriceOverrides } from './pricing.js';
import { addUsage, type Usage, zeroUsage } from './usage.js';

export const DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const DEFAULT_MAX_ATTEMPTS = 6;
const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_BASE_DELAY_MS = 1000;
const DEFAULT_MAX_WAIT_MS = 60 * 1000;
const DEFAULT_STREAM_IDLE_MS = 90 * 1000;

/** A log sink; `console` and probot/pino loggers fit. */
export interface ModelLog {
  warn(message: string): void;
  info(message: string): void;
  debug?(message: string): void;
}

export interface CallMeta {
  /** Who is calling (`trial`, `executor`, `optimizer`...): ledger tag and error wording. */
  tag: string;
  signal?: AbortSignal;
  /** Extra request headers (the bench's trial name). */
  headers?: Record<string, string>;
}

export interface ModelClient {
  /** One Messages API call, retried on transient failures, recorded in the ledger. */
  create(params: MessageCreateParamsNonStreaming, meta: CallMeta): Promise<Message>;
  /** Same, over a streamed response (needed for large `max_tokens`); resolves the final message. */
  stream(params: MessageCreateParamsNonStreaming, meta: CallMeta): Promise<Message>;
  readonly ledger: CostLedger;
}

export interface ModelClientOptions {
  apiKey: string;
  /** Anthropic-compatible base URL; defaults to the public API (never read from the environment). */
  baseURL?: string;
  /** Attempts per call including the first (default 6). */
  maxAttempts?: number;
  /** Per-attempt timeout, the body of a non-streamed answer included (default 10 minutes). */
  timeoutMs?: number;
  /** First backoff wait before jitter (default 1 s), doubled per attempt. */
  baseDelayMs?: number;
  /** Cap on any single wait, `retry-after` included (default 60 s). */
  maxWaitMs?: number;
  /** A stream that sends nothing for this long is dropped and retried (default 90 s). */
  streamIdleMs?: number;
  ledger?: CostLedger;
  /** Price overrides for a ledger created here (ignored when `ledger` is given). */
  prices?: PriceOverrides;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1): jitter source; inject for deterministic tests. */
  random?: () => number;
  /** Milliseconds clock used to report how long the retries took. */
  now?: () => number;
  log?: ModelLog;
  fetch?: typeof fetch;
}

/** The API refused the request itself (400/401/403/404/413/422...): retrying cannot help. */
export class ModelRequestError extends SkillOptimizerError {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** The API's usage (nullable cache fields) in the ledger's shape. */
export function usageFromApi(usage: SdkUsage | null | undefined): Usage {
  return addUsage(zeroUsage(), usage);
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A failure, classified: whether to retry and how to say it in plain words. */
export interface Failure {
  retryable: boolean;
  /** e.g. "Anthropic API overloaded (529)". */
  summary: string;
  status?: number;
  /** Server-requested wait, when it sent `retry-after-ms` / `retry-after`. */
  retryAfterMs?: number;
}

const STREAM_ERROR_STATUS: Record<string, number> = {
  overloaded_error: 529,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
};

function describeStatus(status: number): string {
  if (status === 529) return `Anthropic API overloaded (${status})`;
  if (status === 429) return `Anthropic API rate limit reached (${status})`;
  if (status === 408 || status === 504) return `Anthropic API request timed out (${status})`;
  if (status === 409) return `Anthropic API reported a conflict (${status})`;
  if (status >= 500) return `Anthropic API server error (${status})`;
  return `Anthropic API error (${status})`;
}

export function parseRetryAfter(headers: Headers | undefined, nowMs: number): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return seconds > 0 ? seconds * 1000 : undefined;
  const at = Date.parse(raw);
  return Number.isFinite(at) && at > nowMs ? at - nowMs : undefined;
}

/** A whole attempt (headers and body) took longer than the per-attempt timeout. */
class AttemptTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`attempt timed out after ${timeoutMs} ms`);
  }
}

/** The stream went quiet for longer than the idle timeout; the attempt was aborted. */
class StreamStalled extends Error {
  constructor(readonly idleMs: number) {
    super(`stream stalled for ${idleMs} ms`);
  }
}

/** The connection dropped while the body was read (undici's "terminated", a socket reset). */
function isDroppedBody(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return (
    error.message === 'terminated' ||
    (typeof cause?.code === 'string' && /^(ECONNRESET|EPIPE|UND_ERR_)/.test(cause.code))
  );
}

/** The SDK's words for a stream that closed before its message was complete. */
function isCutShortStream(error: unknown): boolean {
  return error instanceof AnthropicError && / ended without /.test(error.message);
}

const isRetryableStatus = (status: number) =>
  status === 408 || status === 409 || status === 429 || status >= 500;

export function classifyFailure(
  error: unknown,
  host: string,
  timeoutMs: number,
  nowMs: number,
): Failure {
  if (error instanceof APIConnectionTimeoutError || error instanceof AttemptTimedOut) {
    return {
      retryable: true,
      summary: `Anthropic API did not answer within ${seconds(timeoutMs)}`,
    };
  }
  if (error instanceof APIConnectionError) {
    return { retryable: true, summary: `Could not connect to the Anthropic API at ${host}` };
  }
  if (error instanceof APIError) {
    // A stream that fails mid-way reports the error type in an SSE event, without a status.
    const status = error.status ?? (error.type ? STREAM_ERROR_STATUS[error.type] : undefined);
    if (status === undefined) {
      return { retryable: false, summary: `Anthropic API error (${error.type ?? 'unknown'})` };
    }
    const retryAfterMs = parseRetryAfter(error.headers, nowMs);
    return {
      retryable: isRetryableStatus(status),
      summary: describeStatus(status),
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  // A streamed message wraps what broke its stream (a parse error, a dropped socket).
  if (error instanceof AnthropicError && !(error instanceof APIError) && error.cause) {
    return classifyFailure(error.cause, host, timeoutMs, nowMs);
  }
  if (error instanceof StreamStalled) {
    return {
      retryable: true,
      summary: `Anthropic API stream stalled (nothing received for ${seconds(error.idleMs)})`,
    };
  }
  // A cut-off or garbled body reads as invalid JSON; a stream cut short ends without a message.
  if (error instanceof SyntaxError || isCutShortStream(error)) {
    return { retryable: true, summary: 'Anthropic API sent a truncated or invalid response' };
  }
  if (isDroppedBody(error)) {
    return { retryable: true, summary: 'Anthropic API connection dropped mid-response' };
  }
  return { retryable: false, summary: 'Anthropic API call failed' };
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`;
}

/** Only the host: a base URL may carry credentials in its user-info part. */
function hostOf(baseURL: string): string {
  return URL.canParse(baseURL) ? new URL(baseURL).host : 'the configured base URL';
}

/** Replaces every occurrence of the key (and of a recognisable key prefix) in text. */
function redactor(apiKey: string): (text: string) => string {
  return (text) => {
    let out = apiKey.length > 0 ? text.split(apiKey).join('[redacted]') : text;
    out = out.replace(/sk-ant-[A-Za-z0-9_-]+/g, 'sk-ant-[redacted]');
    return out;
  };
}

function requestErrorMessage(error: APIError, tag: string, model: string): string {
  const status = error.status;
  const requestId = error.requestID ? ` (request id ${error.requestID})` : '';
  const detail = `${error.apiMessage ? `: ${error.apiMessage}` : ''}${requestId}`;
  const call = `${tag} call to ${model}`;
  if (status === 401) {
    return `Anthropic API rejected the API key (401) for the ${call}; check ANTHROPIC_API_KEY${detail}`;
  }
  if (status === 403) return `Anthropic API refused the ${call} (403 permission denied)${detail}`;
  if (status === 404)
    return `Anthropic API does not know the ${call} (404; check the model id)${detail}`;
  return `Anthropic API rejected the ${call} (${status ?? error.type ?? 'error'})${detail}`;
}

/** Builds the Anthropic client wrapper: explicit retries, plain-word errors, every call costed. */
/** The SDK's per-request options: the attempt's signal and the call's own headers. */
function requestOptions(
  meta: CallMeta,
  signal: AbortSignal,
): { signal: AbortSignal; headers?: Record<string, string> } {
  return { signal, ...(meta.headers ? { headers: meta.headers } : {}) };
}

export function createModelClient(options: ModelClientOptions): ModelClient {
  const baseURL = options.baseURL ?? DEFAULT_BASE_URL;
  const host = hostOf(baseURL);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const streamIdleMs = options.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const redact = redactor(options.apiKey);
  const ledger = options.ledger ?? new CostLedger(options.prices ? { prices: options.prices } : {});
  const log = options.log;
  const unpricedWarned = new Set<string>();

  // Everything is passed explicitly so the SDK reads no environment variable of its own.
  const sdk = new Anthropic({
    apiKey: options.apiKey,
    baseURL,
    maxRetries: 0,
    timeout: timeoutMs,
    logLevel: 'off',
    openTelemetry: false,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  function backoff(attempt: number, failure: Failure): number {
    const exp = Math.min(maxWaitMs, baseDelayMs * 2 ** (attempt - 1));
    const jittered = exp / 2 + (random() * exp) / 2;
    return Math.min(maxWaitMs, Math.max(jittered, failure.retryAfterMs ?? 0));
  }

  function record(message: Message, params: MessageCreateParamsNonStreaming, tag: string) {
    const entry: LedgerEntry = ledger.record({
      tag,
      model: message.model || params.model,
      usage: usageFromApi(message.usage),
    });
    if (!entry.priced && !unpricedWarned.has(entry.model)) {
      unpricedWarned.add(entry.model);
      log?.warn(`No price known for model ${entry.model}; its cost counts as $0 in the run total.`);
    }
  }

  async function withRetries(
    params: MessageCreateParamsNonStreaming,
    meta: CallMeta,
    attemptOnce: () => Promise<Message>,
  ): Promise<Message> {
    const started = now();
    const call = `${meta.tag} call to ${params.model}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const message = await attemptOnce();
        record(message, params, meta.tag);
        return message;
      } catch (error) {
        if (error instanceof APIUserAbortError || meta.signal?.aborted) throw error;
        const failure = classifyFailure(error, host, timeoutMs, now());
        if (!failure.retryable) {
          if (error instanceof APIError) {
            throw new ModelRequestError(
              redact(requestErrorMessage(error, meta.tag, params.model)),
              error.status,
            );
          }
          throw new ModelUnavailableError(
            redact(`${failure.summary} (${call}): ${(error as Error).message ?? String(error)}`),
            { cause: error },
          );
        }
        if (attempt >= maxAttempts) {
          const elapsed = seconds(now() - started);
          throw new ModelUnavailableError(
            redact(
              `${failure.summary} after ${attempt} attempts over ${elapsed} (${call}); try again later.`,
            ),
            { cause: error },
          );
        }
        const wait = backoff(attempt, failure);
        log?.warn(
          redact(
            `${failure.summary} on attempt ${attempt}/${maxAttempts} (${call}); retrying in ${(wait / 1000).toFixed(1)} s.`,
          ),
        );
        await sleep(wait, meta.signal);
      }
    }
  }

  /**
   * Runs one attempt under a watchdog that aborts it with `reason` after `ms` without progress
   * (`progress()` re-arms it). The SDK's own timeout stops once headers arrive; this covers the body.
   */
  async function watched(
    signal: AbortSignal | undefined,
    ms: number,
    reason: Error,
    attempt: (signal: AbortSignal, progress: () => void) => Promise<Message>,
  ): Promise<Message> {
    const watchdog = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const progress = () => {
      clearTimeout(timer);
      timer = setTimeout(() => watchdog.abort(reason), ms);
    };
    progress();
    try {
      return await attempt(
        signal ? AbortSignal.any([signal, watchdog.signal]) : watchdog.signal,
        progress,
      );
    } catch (error) {
      if (watchdog.signal.aborted && !signal?.aborted) throw reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    ledger,
    create(params, meta) {
      return withRetries(params, meta, () =>
        watched(meta.signal, timeoutMs, new AttemptTimedOut(timeoutMs), (signal) =>
          sdk.messages.create(params, requestOptions(meta, signal)),
        ),
      );
    },
    stream(params, meta) {
      return withRetries(params, meta, () =>
        watched(meta.signal, streamIdleMs, new StreamStalled(streamIdleMs), (signal, progress) => {
          const stream = sdk.messages.stream(params, requestOptions(meta, signal));
          stream.on('streamEvent', progress);
          return stream.finalMessage();
        }),
      );
    },
  };
}
