import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ModelGateway, startModelGateway } from '../../src/bench/gateway.js';
import type { Usage } from '../../src/model/usage.js';

const REAL_KEY = 'sk-ant-REAL-gateway-test-7f3a9c';

const SSE_BODY = [
  'event: message_start',
  'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":7,"cache_read_input_tokens":5,"output_tokens":1}}}',
  '',
  'event: content_block_start',
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
  '',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo ✓"}}',
  '',
  'event: content_block_stop',
  'data: {"type":"content_block_stop","index":0}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":13}}',
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
  '',
].join('\n');

const JSON_BODY = {
  id: 'msg_2',
  type: 'message',
  role: 'assistant',
  model: 'claude-test',
  content: [{ type: 'text', text: 'ok' }],
  stop_reason: 'end_turn',
  usage: {
    input_tokens: 100,
    output_tokens: 20,
    cache_creation_input_tokens: 3,
    cache_read_input_tokens: 40,
  },
};

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let upstreamURL: string;
let received: Received[];
let gateway: ModelGateway;
let logLines: string[];

beforeEach(async () => {
  received = [];
  logLines = [];
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.headers['x-api-key'] !== REAL_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"authentication_error","message":"bad key"}}');
        return;
      }
      const parsed = body === '' ? {} : (JSON.parse(body) as { stream?: boolean });
      if (parsed.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_sse' });
        // Split mid-event (and mid-character) to exercise the incremental parser.
        const bytes = Buffer.from(SSE_BODY, 'utf8');
        const cut = bytes.indexOf(Buffer.from('✓')) + 1;
        res.write(bytes.subarray(0, cut));
        setTimeout(() => res.end(bytes.subarray(cut)), 5);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_json' });
      res.end(JSON.stringify(JSON_BODY));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/prefix/`;
  gateway = await startModelGateway({
    upstreamBaseURL: upstreamURL,
    upstreamApiKey: REAL_KEY,
    costOf: (_model, usage) => usage.input_tokens * 0.001 + usage.output_tokens * 0.01,
    log: (line) => logLines.push(line),
  });
});

afterEach(async () => {
  await gateway.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function post(
  key: string,
  body: unknown,
  auth: 'x-api-key' | 'bearer' = 'x-api-key',
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'some-beta',
  };
  if (auth === 'x-api-key') headers['x-api-key'] = key;
  else headers.authorization = `Bearer ${key}`;
  return fetch(`${gateway.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
}

const usageOf = (u: Usage) => [
  u.input_tokens,
  u.output_tokens,
  u.cache_creation_input_tokens,
  u.cache_read_input_tokens,
];

describe('model gateway', () => {
  it('swaps the dummy key for the real one and forwards method, path, query, body and headers', async () => {
    const trial = gateway.openTrial('t1');
    expect(trial.apiKey).toMatch(/^sk-trial-[0-9a-f]{36}$/);
    const res = await post(trial.apiKey, { model: 'claude-test', max_tokens: 10, messages: [] });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toBe('req_json');
    expect(await res.json()).toEqual(JSON_BODY);
    expect(received).toHaveLength(1);
    const [got] = received;
    expect(got?.method).toBe('POST');
    expect(got?.url).toBe('/prefix/v1/messages?beta=true');
    expect(got?.headers['x-api-key']).toBe(REAL_KEY);
    expect(got?.headers.authorization).toBeUndefined();
    expect(got?.headers['anthropic-version']).toBe('2023-06-01');
    expect(got?.headers['anthropic-beta']).toBe('some-beta');
    expect(got?.headers['x-skill-optimizer-trial']).toBe('t1');
    expect(JSON.parse(got?.body ?? '')).toEqual({
      model: 'claude-test',
      max_tokens: 10,
      messages: [],
    });
    expect(JSON.stringify(got?.headers)).not.toContain(trial.apiKey);
  });

  it('accepts the dummy key as a Bearer token too', async () => {
    const trial = gateway.openTrial('t1');
    const res = await post(trial.apiKey, { model: 'claude-test' }, 'bearer');
    expect(res.status).toBe(200);
    expect(received[0]?.headers['x-api-key']).toBe(REAL_KEY);
  });

  it('refuses unknown and closed keys with an Anthropic-shaped 401 and never calls upstream', async () => {
    const unknown = await post('sk-trial-nope', { model: 'claude-test' });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'invalid x-api-key' },
    });
    const trial = gateway.openTrial('t1');
    trial.close();
    expect((await post(trial.apiKey, { model: 'claude-test' })).status).toBe(401);
    const none = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(received).toHaveLength(0);
  });

  it('passes an SSE stream through byte for byte and meters message_start and message_delta usage', async () => {
    const trial = gateway.openTrial('t1');
    const res = await post(trial.apiKey, { model: 'claude-test', stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(SSE_BODY, 'utf8'))).toBe(true);
    // input, output (last delta wins), cache write, cache read
    expect(usageOf(trial.usage())).toEqual([11, 13, 7, 5]);
    expect(trial.costUsd()).toBeCloseTo(11 * 0.001 + 13 * 0.01, 10);
  });

  it('sums JSON and SSE usage, cache fields included, per trial', async () => {
    const trial = gateway.openTrial('t1');
    await (await post(trial.apiKey, { model: 'claude-test' })).json();
    await (await post(trial.apiKey, { model: 'claude-test', stream: true })).arrayBuffer();
    expect(usageOf(trial.usage())).toEqual([111, 33, 10, 45]);
  });

  it('does not meter responses without usage (count_tokens, errors)', async () => {
    const trial = gateway.openTrial('t1');
    const other = await startModelGateway({
      upstreamBaseURL: upstreamURL,
      upstreamApiKey: 'wrong-key',
    });
    try {
      const t2 = other.openTrial('t2');
      const res = await fetch(`${other.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': t2.apiKey },
        body: '{}',
      });
      expect(res.status).toBe(401);
      expect(usageOf(t2.usage())).toEqual([0, 0, 0, 0]);
    } finally {
      await other.close();
    }
    expect(usageOf(trial.usage())).toEqual([0, 0, 0, 0]);
  });

  it('meters concurrent trials separately', async () => {
    const a = gateway.openTrial('a');
    const b = gateway.openTrial('b');
    await Promise.all([
      post(a.apiKey, { model: 'claude-test', stream: true }).then((r) => r.arrayBuffer()),
      post(b.apiKey, { model: 'claude-test' }).then((r) => r.arrayBuffer()),
      post(a.apiKey, { model: 'claude-test', stream: true }).then((r) => r.arrayBuffer()),
      post(b.apiKey, { model: 'claude-test' }).then((r) => r.arrayBuffer()),
    ]);
    expect(usageOf(a.usage())).toEqual([22, 26, 14, 10]);
    expect(usageOf(b.usage())).toEqual([200, 40, 6, 80]);
  });

  it('refuses further requests once the token budget is spent and records it', async () => {
    // Counted at price: 100 input + 20 output × 5 + 3 cache writes × 1.25 + 40 cache reads × 0.1.
    const trial = gateway.openTrial('t1', { maxTotalTokens: 400 });
    const first = await post(trial.apiKey, { model: 'claude-test' }); // 207.75 tokens
    expect(first.status).toBe(200);
    await first.text();
    expect(trial.budgetExhausted()).toBe(false);
    const second = await post(trial.apiKey, { model: 'claude-test' }); // 415.5 tokens
    expect(second.status).toBe(200);
    await second.text();
    const refused = await post(trial.apiKey, { model: 'claude-test' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'trial budget exhausted' },
    });
    expect(trial.budgetExhausted()).toBe(true);
    expect(received).toHaveLength(2);
    // Another trial is unaffected.
    const other = gateway.openTrial('t2', { maxTotalTokens: 400 });
    expect((await post(other.apiKey, { model: 'claude-test' })).status).toBe(200);
  });

  it('refuses further requests once the cost budget is spent', async () => {
    const trial = gateway.openTrial('t1', { budgetUsd: 0.15 });
    // Each stream is read to its end before the next request, as an agent does: usage is
    // metered from the stream's last events.
    const first = await post(trial.apiKey, { model: 'claude-test', stream: true }); // $0.141
    expect(first.status).toBe(200);
    await first.text();
    const second = await post(trial.apiKey, { model: 'claude-test', stream: true }); // $0.282
    expect(second.status).toBe(200);
    await second.text();
    expect((await post(trial.apiKey, { model: 'claude-test' })).status).toBe(400);
    expect(trial.budgetExhausted()).toBe(true);
  });

  it('answers 502 when the upstream is unreachable and tells the trial why', async () => {
    const deadURL = await closedPortURL();
    const dead = await startModelGateway({
      upstreamBaseURL: deadURL,
      upstreamApiKey: REAL_KEY,
    });
    try {
      const trial = dead.openTrial('t1');
      const heard: string[] = [];
      trial.onUnreachable((why) => heard.push(why));
      const res = await fetch(`${dead.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': trial.apiKey },
        body: '{}',
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('api_error');
      expect(trial.requests()).toBe(1);
      expect(trial.unreachable()).toBe(
        `the model gateway could not reach the model API at ${deadURL}: connect ECONNREFUSED ${deadURL.slice('http://'.length)}`,
      );
      expect(heard).toEqual([trial.unreachable()]);
    } finally {
      await dead.close();
    }
  });

  it('never returns or logs the real key', async () => {
    const trial = gateway.openTrial('t1');
    const bodies = await Promise.all([
      post(trial.apiKey, { model: 'claude-test' }).then((r) => r.text()),
      post(trial.apiKey, { model: 'claude-test', stream: true }).then((r) => r.text()),
      post('sk-trial-unknown', { model: 'claude-test' }).then((r) => r.text()),
    ]);
    const headers = await post(trial.apiKey, {}).then((r) => JSON.stringify([...r.headers]));
    expect(logLines.length).toBeGreaterThan(0);
    for (const text of [...bodies, headers, ...logLines]) expect(text).not.toContain(REAL_KEY);
  });
});

/** The URL of a loopback port nothing listens on (port 1 is one fetch refuses outright). */
async function closedPortURL(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
