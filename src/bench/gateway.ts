import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import { CacheWarmer } from '../model/cache-warm.js';
import { TRIAL_HEADER } from '../model/trial-header.js';
import { addUsage, pricedTokens, USAGE_FIELDS, type Usage, zeroUsage } from '../model/usage.js';
import {
  HOP_BY_HOP_REQUEST_HEADERS,
  HOP_BY_HOP_RESPONSE_HEADERS,
  listenOnLoopback,
  readBody,
} from '../net/loopback.js';

/**
 * The loopback model gateway (docs/security.md): agent processes get its URL and a per-trial dummy
 * key; the gateway swaps in the real key, forwards to the upstream, streams the answer back
 * unchanged and meters tokens and cost per trial, refusing requests once a trial's budget is spent.
 */

export interface TrialLimits {
  /** Tokens a trial may use, each kind counted at its price in input tokens (`pricedTokens`). */
  maxTotalTokens?: number;
  budgetUsd?: number;
}

export interface TrialMeter {
  /** The dummy key the agent sends; only this gateway knows what it stands for. */
  readonly apiKey: string;
  usage(): Usage;
  costUsd(): number;
  /** True once a request was refused because the trial's budget was spent. */
  budgetExhausted(): boolean;
  /** Requests the agent sent with this trial's key (refused ones included). */
  requests(): number;
  /** Why the upstream could not be reached, while no request of this trial has reached it. */
  unreachable(): string | null;
  /** Called once when the upstream is found unreachable before any request reached it. */
  onUnreachable(listener: (why: string) => void): void;
  /** Forget the key: later requests with it are refused as unauthenticated. */
  close(): void;
}

export interface ModelGateway {
  readonly url: string;
  openTrial(trialId: string, limits?: TrialLimits): TrialMeter;
  close(): Promise<void>;
}

export interface ModelGatewayOptions {
  upstreamBaseURL: string;
  upstreamApiKey: string;
  /** Price of one response's usage; without it every call costs 0 and `budgetUsd` never trips. */
  costOf?: (model: string, usage: Usage) => number;
  /** Defaults for trials opened without their own limits. */
  budgetUsdPerTrial?: number;
  maxTotalTokensPerTrial?: number;
  log?: (line: string) => void;
  /**
   * Holds a trial's Messages request while a request of another trial that writes a cache prefix
   * they share is in flight, and sends it once that one has answered, so it reads the prefix
   * instead of writing it again (model/cache-warm.ts). Default: one warmer for the gateway's
   * trials; null forwards every request at once.
   */
  cacheWarmer?: CacheWarmer | null;
}

interface TrialState {
  id: string;
  limits: TrialLimits;
  usage: Usage;
  cost: number;
  exhausted: boolean;
  requests: number;
  reached: boolean;
  unreachable: string | null;
  listeners: Array<(why: string) => void>;
}

/** Never forwarded: hop-by-hop headers, and the caller's credentials (the gateway holds the key). */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP_REQUEST_HEADERS,
  'proxy-authorization',
  'x-api-key',
  'authorization',
]);

export async function startModelGateway(options: ModelGatewayOptions): Promise<ModelGateway> {
  const trials = new Map<string, TrialState>();
  const upstream = options.upstreamBaseURL.replace(/\/+$/, '');
  const costOf = options.costOf ?? (() => 0);
  const log = options.log ?? (() => undefined);
  const inflight = new Set<AbortController>();
  const warmer = options.cacheWarmer === undefined ? new CacheWarmer() : options.cacheWarmer;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      log(`gateway: ${req.method} ${req.url} failed: ${describe(error)}`);
      if (!res.headersSent)
        sendError(res, 502, 'api_error', 'model gateway could not reach the upstream');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const trial = trials.get(presentedKey(req) ?? '');
    if (trial === undefined) {
      sendError(res, 401, 'authentication_error', 'invalid x-api-key');
      return;
    }
    trial.requests += 1;
    const body = await readBody(req);
    if (isOverBudget(trial)) {
      trial.exhausted = true;
      log(`gateway: trial ${trial.id} refused ${req.method} ${req.url}: budget exhausted`);
      sendError(res, 400, 'invalid_request_error', 'trial budget exhausted');
      return;
    }
    const abort = new AbortController();
    inflight.add(abort);
    res.on('close', () => abort.abort());
    try {
      const params = warmer === null ? null : messagesParams(req, body);
      const forward = () => forwardAndRelay(req, res, trial, body, abort);
      await (params === null || warmer === null ? forward() : warmer.run(params, forward));
    } finally {
      inflight.delete(abort);
    }
  }

  async function forwardAndRelay(
    req: IncomingMessage,
    res: ServerResponse,
    trial: TrialState,
    body: Buffer,
    abort: AbortController,
  ): Promise<void> {
    let upstreamRes: Response;
    try {
      upstreamRes = await fetch(upstream + (req.url ?? '/'), {
        method: req.method ?? 'GET',
        headers: forwardedHeaders(req, options.upstreamApiKey, trial.id),
        body: body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD' ? body : undefined,
        signal: abort.signal,
      });
    } catch (error) {
      if (!abort.signal.aborted) noteUnreachable(trial, error);
      throw error;
    }
    trial.reached = true;
    log(`gateway: trial ${trial.id} ${req.method} ${req.url} -> ${upstreamRes.status}`);
    await relay(upstreamRes, res, trial, requestModel(body));
  }

  /** The first failure to reach the upstream before any response: the agent cannot get one. */
  function noteUnreachable(trial: TrialState, error: unknown): void {
    if (trial.reached || trial.unreachable !== null) return;
    trial.unreachable = `the model gateway could not reach the model API at ${upstream}: ${fetchFailure(error)}`;
    for (const listener of trial.listeners) listener(trial.unreachable);
  }

  function isOverBudget(trial: TrialState): boolean {
    const { maxTotalTokens, budgetUsd } = trial.limits;
    if (maxTotalTokens !== undefined && pricedTokens(trial.usage) >= maxTotalTokens) return true;
    return budgetUsd !== undefined && trial.cost >= budgetUsd;
  }

  async function relay(
    upstreamRes: Response,
    res: ServerResponse,
    trial: TrialState,
    model: string,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    upstreamRes.headers.forEach((value, name) => {
      if (!HOP_BY_HOP_RESPONSE_HEADERS.has(name)) headers[name] = value;
    });
    res.writeHead(upstreamRes.status, headers);
    const contentType = upstreamRes.headers.get('content-type') ?? '';
    const meter = contentType.includes('text/event-stream')
      ? new SseUsageMeter()
      : new JsonUsageMeter();
    if (upstreamRes.body !== null) {
      for await (const chunk of upstreamRes.body) {
        meter.feed(chunk);
        if (!res.write(chunk)) await drained(res);
      }
    }
    res.end();
    const usage = meter.finish();
    if (usage !== null) {
      trial.usage = addUsage(trial.usage, usage);
      trial.cost += costOf(meter.model() ?? model, { ...zeroUsage(), ...usage });
    }
  }

  const listener = await listenOnLoopback(server);
  return {
    url: listener.url,
    openTrial(trialId, limits) {
      const apiKey = `sk-trial-${randomBytes(18).toString('hex')}`;
      const state: TrialState = {
        id: trialId,
        limits: {
          maxTotalTokens: limits?.maxTotalTokens ?? options.maxTotalTokensPerTrial,
          budgetUsd: limits?.budgetUsd ?? options.budgetUsdPerTrial,
        },
        usage: zeroUsage(),
        cost: 0,
        exhausted: false,
        requests: 0,
        reached: false,
        unreachable: null,
        listeners: [],
      };
      trials.set(apiKey, state);
      return {
        apiKey,
        usage: () => ({ ...state.usage }),
        costUsd: () => state.cost,
        budgetExhausted: () => state.exhausted,
        requests: () => state.requests,
        unreachable: () => state.unreachable,
        onUnreachable: (listener) => {
          state.listeners.push(listener);
        },
        close: () => {
          trials.delete(apiKey);
        },
      };
    },
    async close() {
      trials.clear();
      for (const abort of inflight) abort.abort();
      await listener.close();
    },
  };
}

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer '))
    return auth.slice('Bearer '.length).trim();
  return undefined;
}

function forwardedHeaders(req: IncomingMessage, realKey: string, trialId: string): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  headers.set('x-api-key', realKey);
  headers.set(TRIAL_HEADER, trialId);
  return headers;
}

/**
 * A `POST /v1/messages` body as the cache warmer reads it (model, tools, system, messages), or
 * null for any other request or a body of another shape, which is forwarded as it is.
 */
function messagesParams(req: IncomingMessage, body: Buffer): MessageCreateParamsBase | null {
  const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
  if (req.method !== 'POST' || path !== '/v1/messages' || body.length === 0) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  if (!isRecord(parsed) || typeof parsed.model !== 'string') return null;
  const { tools, system, messages } = parsed;
  const blocks = (v: unknown) => Array.isArray(v) && v.every(isRecord);
  if (tools !== undefined && !blocks(tools)) return null;
  if (system !== undefined && typeof system !== 'string' && !blocks(system)) return null;
  const messageOk = (m: unknown) =>
    isRecord(m) && (typeof m.content === 'string' || blocks(m.content));
  if (!Array.isArray(messages) || !messages.every(messageOk)) return null;
  return parsed as unknown as MessageCreateParamsBase;
}

/** The `model` field of a JSON request body, for pricing; '' when there is none. */
function requestModel(body: Buffer): string {
  if (body.length === 0) return '';
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const model = isRecord(parsed) ? parsed.model : undefined;
    return typeof model === 'string' ? model : '';
  } catch (error) {
    if (error instanceof SyntaxError) return '';
    throw error;
  }
}

/** Resolves when the client can take more bytes, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** fetch says only "fetch failed"; the cause names the network error (ECONNREFUSED, ENOTFOUND). */
function fetchFailure(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${cause.message} (${code})`
      : cause.message;
  }
  return describe(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Numeric usage fields present in `value`; later reports of a field replace earlier ones. */
function usageFields(value: unknown): Partial<Usage> {
  const out: Partial<Usage> = {};
  if (!isRecord(value)) return out;
  for (const field of USAGE_FIELDS) {
    const n = value[field];
    if (typeof n === 'number' && Number.isFinite(n)) out[field] = n;
  }
  return out;
}

interface UsageMeter {
  feed(chunk: Uint8Array): void;
  /** The usage the response reported, or null when it reported none. */
  finish(): Partial<Usage> | null;
  model(): string | undefined;
}

/** A JSON body: `usage` at the top level (a Message). Bodies over the cap are not metered. */
class JsonUsageMeter implements UsageMeter {
  private static readonly CAP = 16 * 1024 * 1024;
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private reportedModel: string | undefined;

  feed(chunk: Uint8Array): void {
    this.size += chunk.length;
    if (this.size <= JsonUsageMeter.CAP) this.chunks.push(chunk);
  }

  finish(): Partial<Usage> | null {
    if (this.size === 0 || this.size > JsonUsageMeter.CAP) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(this.chunks).toString('utf8'));
    } catch (error) {
      if (error instanceof SyntaxError) return null;
      throw error;
    }
    if (!isRecord(parsed) || !isRecord(parsed.usage)) return null;
    if (typeof parsed.model === 'string') this.reportedModel = parsed.model;
    return usageFields(parsed.usage);
  }

  model(): string | undefined {
    return this.reportedModel;
  }
}

/**
 * An SSE stream: `message_start` carries the opening usage, each `message_delta` the running
 * totals of the fields it names, so the last report of every field is the message's usage.
 */
class SseUsageMeter implements UsageMeter {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private usage: Partial<Usage> | null = null;
  private reportedModel: string | undefined;

  feed(chunk: Uint8Array): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let end = this.buffer.search(/\r?\n\r?\n/);
    while (end !== -1) {
      const event = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      this.onEvent(event);
      end = this.buffer.search(/\r?\n\r?\n/);
    }
  }

  finish(): Partial<Usage> | null {
    this.buffer += this.decoder.decode();
    if (this.buffer.trim() !== '') this.onEvent(this.buffer);
    this.buffer = '';
    return this.usage;
  }

  model(): string | undefined {
    return this.reportedModel;
  }

  private onEvent(event: string): void {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (error) {
      if (error instanceof SyntaxError) return;
      throw error;
    }
    if (!isRecord(parsed)) return;
    if (parsed.type === 'message_start' && isRecord(parsed.message)) {
      if (typeof parsed.message.model === 'string') this.reportedModel = parsed.message.model;
      this.usage = { ...this.usage, ...usageFields(parsed.message.usage) };
    } else if (parsed.type === 'message_delta') {
      this.usage = { ...this.usage, ...usageFields(parsed.usage) };
    }
  }
}
