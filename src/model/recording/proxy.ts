import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  HOP_BY_HOP_REQUEST_HEADERS,
  HOP_BY_HOP_RESPONSE_HEADERS,
  listenOnLoopback,
  readBody,
} from '../../net/loopback.js';
import { TRIAL_HEADER } from '../trial-header.js';

/**
 * The recording proxy behind `--record`: a loopback HTTP server every model call of a command goes
 * through (the chain's own calls and the trial agents', Claude Code's gateway included). It
 * forwards each request to the upstream base URL unchanged, streams the answer back as it comes,
 * and keeps a copy of every finished `POST /v1/messages` exchange for the recording.
 */

export interface RecordedExchange {
  /** The request body as sent (JSON text). */
  request: string;
  status: number;
  /** The bench trial that asked (`x-skill-optimizer-trial`); null for the chain's own calls. */
  trial: string | null;
  /** `retry-after-ms` / `retry-after` of a 429, when sent. */
  retryAfterMs: number | null;
  /** The response body as received: JSON, or the SSE stream of a streaming call. */
  response: string;
}

export interface RecordingProxy {
  url: string;
  /** Finished exchanges in the order their answers ended (empty when `onExchange` takes them). */
  exchanges: RecordedExchange[];
  /** Stops the proxy and drops open connections; idempotent. */
  close(): Promise<void>;
}

function forwardedHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP_REQUEST_HEADERS.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function retryAfterMs(headers: Headers): number | null {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const seconds = Number(headers.get('retry-after'));
  if (headers.has('retry-after') && Number.isFinite(seconds) && seconds >= 0) {
    return Math.round(seconds * 1000);
  }
  return null;
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `http://host:port/prefix` + `/v1/messages?beta=true` without doubling slashes. */
function upstreamUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

export async function startRecordingProxy(opts: {
  upstreamBaseURL: string;
  /**
   * Takes each exchange as it finishes instead of keeping it: a long run's requests (each up to
   * the whole skill) need not stay in memory until the end.
   */
  onExchange?: (exchange: RecordedExchange) => void;
}): Promise<RecordingProxy> {
  const exchanges: RecordedExchange[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const upstream = await fetch(upstreamUrl(opts.upstreamBaseURL, path), {
      method,
      headers: forwardedHeaders(req),
      ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
      signal: abort.signal,
    });
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP_RESPONSE_HEADERS.has(name)) headers[name] = value;
    });
    res.writeHead(upstream.status, headers);
    const chunks: Buffer[] = [];
    if (upstream.body !== null) {
      for await (const chunk of upstream.body) {
        const bytes = Buffer.from(chunk);
        chunks.push(bytes);
        res.write(bytes);
      }
    }
    res.end();
    const recorded =
      method === 'POST' && new URL(path, 'http://proxy.invalid').pathname === '/v1/messages';
    if (recorded) {
      (opts.onExchange ?? ((e: RecordedExchange) => exchanges.push(e)))({
        request: body.toString('utf8'),
        trial: headerText(req.headers[TRIAL_HEADER]),
        status: upstream.status,
        retryAfterMs: retryAfterMs(upstream.headers),
        response: Buffer.concat(chunks).toString('utf8'),
      });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // The client left mid-answer (its timeout, an abort): nothing finished, nothing recorded;
      // its retry is a new exchange.
      if (res.headersSent || res.destroyed || req.destroyed) {
        res.destroy();
        return;
      }
      const message = `recording proxy: upstream ${opts.upstreamBaseURL} failed: ${(error as Error).message}`;
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message } }));
    });
  });
  const listener = await listenOnLoopback(server);
  return { url: listener.url, exchanges, close: listener.close };
}
