import type { ServerResponse } from 'node:http';
import type { ReplyBlock, ReplyMessage } from './reply.js';
import type { FaultKind } from './script.js';

/** Writes Messages API answers on the wire: JSON bodies, SSE streams, errors and faults. */

export type ErrorType =
  | 'invalid_request_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

export function sendJson(
  res: ServerResponse,
  status: number,
  requestId: string,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'request-id': requestId,
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** An error in the API's shape: `{ type: 'error', error: { type, message } }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  requestId: string,
  type: ErrorType,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = { type: 'error', error: { type, message }, request_id: requestId };
  sendJson(res, status, requestId, body, headers);
}

function startStream(res: ServerResponse, requestId: string): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': requestId,
  });
}

function sendEvent(res: ServerResponse, event: string, data: Record<string, unknown>): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
}

/** Splits a string into pieces of at most `size` characters (one empty piece for ""). */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [''] : out;
}

function messageStart(res: ServerResponse, message: ReplyMessage): void {
  const { content: _content, stop_reason: _stop, ...rest } = message;
  const usage = { ...message.usage, output_tokens: Math.min(1, message.usage.output_tokens) };
  sendEvent(res, 'message_start', { message: { ...rest, content: [], stop_reason: null, usage } });
}

function streamBlock(res: ServerResponse, index: number, block: ReplyBlock): void {
  if (block.type === 'text') {
    sendEvent(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const text of pieces(block.text, 24)) {
      sendEvent(res, 'content_block_delta', { index, delta: { type: 'text_delta', text } });
    }
  } else {
    const start = { ...block, input: {} };
    sendEvent(res, 'content_block_start', { index, content_block: start });
    for (const partial_json of pieces(JSON.stringify(block.input), 24)) {
      sendEvent(res, 'content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json },
      });
    }
  }
  sendEvent(res, 'content_block_stop', { index });
}

/** The whole message as the API streams it. */
export function sendStream(res: ServerResponse, requestId: string, message: ReplyMessage): void {
  startStream(res, requestId);
  messageStart(res, message);
  sendEvent(res, 'ping', {});
  message.content.forEach((block, index) => {
    streamBlock(res, index, block);
  });
  const { output_tokens, input_tokens, cache_creation_input_tokens, cache_read_input_tokens } =
    message.usage;
  sendEvent(res, 'message_delta', {
    delta: { stop_reason: message.stop_reason, stop_sequence: null, stop_details: null },
    usage: { output_tokens, input_tokens, cache_creation_input_tokens, cache_read_input_tokens },
  });
  sendEvent(res, 'message_stop', {});
  res.end();
}

/** A stream's opening (message start and a ping) with nothing after it. */
function startStalledStream(res: ServerResponse, requestId: string, model: string): void {
  startStream(res, requestId);
  sendEvent(res, 'message_start', {
    message: {
      id: requestId,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    },
  });
  sendEvent(res, 'ping', {});
}

export interface FaultContext {
  res: ServerResponse;
  requestId: string;
  stream: boolean;
  model: string;
  retryAfterMs: number;
  /** Resolves when the client goes away; a stall waits for it. */
  closed: Promise<void>;
}

/** Answers with a fault; resolves once the answer is written (a stall: once the client left). */
export async function sendFault(fault: FaultKind, ctx: FaultContext): Promise<void> {
  const { res, requestId } = ctx;
  switch (fault) {
    case 429: {
      const headers = {
        'retry-after': String(Math.ceil(ctx.retryAfterMs / 1000)),
        'retry-after-ms': String(ctx.retryAfterMs),
      };
      sendError(res, 429, requestId, 'rate_limit_error', 'scripted fault: rate limited', headers);
      return;
    }
    case 529:
      sendError(res, 529, requestId, 'overloaded_error', 'scripted fault: overloaded');
      return;
    case 500:
      sendError(res, 500, requestId, 'api_error', 'scripted fault: internal server error');
      return;
    case 'stall':
      if (ctx.stream) {
        startStalledStream(res, requestId, ctx.model);
      }
      await ctx.closed;
      return;
    case 'malformed':
      if (ctx.stream) {
        startStream(res, requestId);
        res.end('event: message_start\ndata: {"type":"message_start","message":{"id":\n\n');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
        res.end('{"id":"msg_malformed","type":"message","content":[{"type":"te');
      }
      return;
  }
}

/** Starts the answer (a stream's first event), sends nothing for `ms`, then drops the connection. */
export async function stallThenDrop(
  ctx: Pick<FaultContext, 'res' | 'requestId' | 'stream' | 'model' | 'closed'>,
  ms: number,
): Promise<void> {
  const { res, requestId } = ctx;
  if (ctx.stream) {
    startStalledStream(res, requestId, ctx.model);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
    ctx.closed,
  ]).finally(() => clearTimeout(timer));
  res.destroy();
}
