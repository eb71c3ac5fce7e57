import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SkillOptimizerError } from '../../errors.js';
import { listenOnLoopback } from '../../net/loopback.js';
import type { MinCacheableOverrides } from '../cache-rules.js';
import { prefixBlocks } from '../cache-rules.js';
import { TRIAL_HEADER } from '../trial-header.js';
import { CacheRuleError, checkCacheMarks, countInputTokens, PromptCache } from './cache.js';
import {
  Chaos,
  type ChaosSettings,
  chaosLabel,
  disturbReply,
  type TransportKind,
} from './chaos.js';
import { type RequestMeta, RuleBook } from './match.js';
import { buildReply, newId } from './reply.js';
import { type MessagesRequest, messagesRequestSchema, viewRequest } from './request.js';
import type { FaultKind, Script } from './script.js';
import type { FaultContext } from './wire.js';
import { sendError, sendFault, sendJson, sendStream, stallThenDrop } from './wire.js';

/**
 * A loopback HTTP server speaking the Anthropic Messages API, answering from a script.
 * Both `@anthropic-ai/sdk` and the real Claude Code agent run against it unmodified.
 */

/** A fault injected on every `every`-th messages request, whatever the script says. */
export interface ServerFaults {
  every: number;
  fault: FaultKind;
  retryAfterMs?: number;
}

export interface ScriptedServerOptions {
  script: Script;
  /** Fixed latency per call before the first byte; overrides the script's `latency_ms`. */
  latencyMs?: number;
  /** Clock for the prompt cache TTL. */
  now?: () => number;
  /**
   * Minimum cacheable prefix per model id or family, laid over the API's defaults
   * (e.g. `{ 'claude-sonnet-4-6': 2048 }`); see model/cache-rules.ts.
   */
  minCacheableTokens?: MinCacheableOverrides;
  faults?: ServerFaults;
  /** Seeded disturbances (see chaos.ts); overrides the script's `chaos`. */
  chaos?: ChaosSettings;
}

export interface RecordedRequest {
  /** URL path without the query string, e.g. `/v1/messages`. */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body; the raw text when it is not JSON; null when empty. */
  body: unknown;
  /** Label of the rule that answered (its `name` or `rules[i]`); null when none did. */
  rule: string | null;
}

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Stops the server and drops open connections (stalled streams included); idempotent. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const DEFAULT_RETRY_AFTER_MS = 1000;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new BodyTooLarge());
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function requestMeta(headers: Record<string, string>): RequestMeta {
  const retries = Number.parseInt(headers['x-stainless-retry-count'] ?? '0', 10);
  return {
    retryCount: Number.isNaN(retries) ? 0 : retries,
    sessionId: headers['x-claude-code-session-id'] ?? headers['x-session-id'] ?? null,
    trial: headers[TRIAL_HEADER] ?? null,
  };
}

/** Waits `ms`, or less if the client goes away first. */
function delay(ms: number, closed: Promise<void>): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([elapsed, closed]).finally(() => clearTimeout(timer));
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `…${flat.slice(-160)}` : flat;
}

export async function startScriptedServer(opts: ScriptedServerOptions): Promise<ScriptedServer> {
  if (
    opts.faults !== undefined &&
    !(Number.isInteger(opts.faults.every) && opts.faults.every > 0)
  ) {
    throw new SkillOptimizerError(
      `faults.every must be a positive integer, got ${opts.faults.every}`,
    );
  }
  const rules = new RuleBook(opts.script);
  const cache = new PromptCache({
    now: opts.now ?? Date.now,
    ...(opts.minCacheableTokens ? { minCacheableTokens: opts.minCacheableTokens } : {}),
  });
  const requests: RecordedRequest[] = [];
  let messageCalls = 0;
  const chaosSettings = opts.chaos ?? opts.script.chaos;
  const chaos = chaosSettings === undefined ? null : new Chaos(chaosSettings);

  /** A chaos transport fault: the same wire faults a script can ask for, a stall that ends. */
  async function sendChaosFault(fault: TransportKind, ctx: FaultContext): Promise<void> {
    if (fault === 'stall') return stallThenDrop(ctx, chaosSettings?.stall_ms ?? 0);
    const kind = fault === 'truncated' ? 'malformed' : (Number(fault) as 429 | 529 | 500);
    await sendFault(kind, { ...ctx, retryAfterMs: chaosSettings?.retry_after_ms ?? 0 });
  }

  async function answerMessages(
    request: MessagesRequest,
    record: RecordedRequest,
    res: ServerResponse,
    requestId: string,
    closed: Promise<void>,
  ): Promise<void> {
    messageCalls += 1;
    const serverFault =
      opts.faults !== undefined && messageCalls % opts.faults.every === 0 ? opts.faults : null;
    const view = viewRequest(request);
    const plan = serverFault === null && chaos !== null ? chaos.plan(request, view) : null;
    const stream = request.stream === true;
    if (plan?.kind === 'transport') {
      record.rule = chaosLabel(plan.fault);
      const ctx = { res, requestId, stream, model: request.model, retryAfterMs: 0, closed };
      await sendChaosFault(plan.fault, ctx);
      return;
    }
    if (plan?.kind === 'repair') {
      record.rule = 'chaos: repair';
      const account = cache.account(request);
      const message = { ...plan.reply, usage: { ...plan.reply.usage, ...account.usage } };
      if (stream) sendStream(res, requestId, message);
      else sendJson(res, 200, requestId, message);
      account.commit();
      return;
    }
    const match = serverFault === null ? rules.select(view, requestMeta(record.headers)) : null;
    record.rule = match?.label ?? null;
    if (serverFault === null && match === null) {
      const message =
        `scripted server: no rule matched this request (turn ${view.turn}, model ${view.model}, ` +
        `last user text: "${snippet(view.lastUserText)}")`;
      sendError(res, 400, requestId, 'invalid_request_error', message);
      return;
    }
    const fault = serverFault?.fault ?? match?.rule.fault;
    // Usage is fixed on arrival; the writes become readable when the answer is sent, so requests
    // that arrive while this one is in flight miss, as on the API.
    const account = fault === undefined ? cache.account(request) : null;
    await delay(match?.rule.latency_ms ?? opts.latencyMs ?? opts.script.latency_ms ?? 0, closed);
    if (res.destroyed) return;
    if (fault !== undefined) {
      const retryAfterMs =
        serverFault?.retryAfterMs ?? match?.rule.retry_after_ms ?? DEFAULT_RETRY_AFTER_MS;
      await sendFault(fault, {
        res,
        requestId,
        stream,
        model: request.model,
        retryAfterMs,
        closed,
      });
      return;
    }
    const reply = match?.rule.reply;
    if (reply === undefined || account === null) return;
    const clean = buildReply(reply, match?.captures ?? {}, request.model, account.usage);
    const disturbed =
      plan?.kind === 'content' ? disturbReply(plan.disturb, clean, plan.tool) : null;
    if (disturbed !== null && plan?.kind === 'content') {
      chaos?.remember(view, disturbed, clean);
      record.rule = `${record.rule} (${chaosLabel(plan.disturb)})`;
    }
    const message = disturbed ?? clean;
    if (stream) sendStream(res, requestId, message);
    else sendJson(res, 200, requestId, message);
    account.commit();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string) {
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    const path = new URL(req.url ?? '/', 'http://scripted.invalid').pathname;
    const record: RecordedRequest = { path, headers: flatHeaders(req), body: null, rule: null };
    requests.push(record);
    const text = await readBody(req);
    const parsed = text === '' ? null : parseJson(text);
    record.body = parsed === null ? null : parsed.ok ? parsed.value : text;
    const route = `${req.method ?? 'GET'} ${path}`;

    if (route === 'HEAD /api/hello' || route === 'GET /api/hello') {
      sendJson(res, 200, requestId, {});
      return;
    }
    if (route !== 'POST /v1/messages' && route !== 'POST /v1/messages/count_tokens') {
      sendError(res, 404, requestId, 'not_found_error', `scripted server: no route ${route}`);
      return;
    }
    if (parsed === null || !parsed.ok) {
      const why = parsed === null ? 'empty body' : parsed.message;
      sendError(res, 400, requestId, 'invalid_request_error', `body is not JSON: ${why}`);
      return;
    }
    const request = messagesRequestSchema.safeParse(parsed.value);
    if (!request.success) {
      const issue = request.error.issues[0];
      const where = issue === undefined ? '' : `${issue.path.join('.')}: ${issue.message}`;
      sendError(res, 400, requestId, 'invalid_request_error', `invalid request: ${where}`);
      return;
    }
    try {
      checkCacheMarks(prefixBlocks(request.data));
    } catch (error) {
      if (!(error instanceof CacheRuleError)) throw error;
      sendError(res, 400, requestId, 'invalid_request_error', error.message);
      return;
    }
    if (path === '/v1/messages/count_tokens') {
      sendJson(res, 200, requestId, { input_tokens: countInputTokens(request.data) });
      return;
    }
    await answerMessages(request.data, record, res, requestId, closed);
  }

  const server = createServer((req, res) => {
    const requestId = newId('req_01');
    handle(req, res, requestId).catch((error: unknown) => {
      // The client is gone (aborted upload) or the answer is half written: nothing to tell it.
      if (res.headersSent || res.destroyed || req.destroyed) {
        res.destroy();
      } else if (error instanceof BodyTooLarge) {
        sendError(res, 413, requestId, 'request_too_large', 'request body too large');
        req.destroy();
      } else {
        const message = `scripted server failed: ${(error as Error).message}`;
        sendError(res, 500, requestId, 'api_error', message);
      }
    });
  });
  const listener = await listenOnLoopback(server);
  return { url: listener.url, requests, close: listener.close };
}
