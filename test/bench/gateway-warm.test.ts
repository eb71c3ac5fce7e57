import { afterEach, describe, expect, it } from 'vitest';
import { type ModelGateway, startModelGateway } from '../../src/bench/gateway.js';
import { scriptSchema } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';

/**
 * The gateway warms the prompt cache for concurrent trials (model/cache-warm.ts): a trial's
 * request that shares a marked prefix with another trial's request still in flight waits for
 * that one's answer and reads what it wrote, as an agent's first calls of a bench do.
 */

const MODEL = 'claude-sonnet-4-6';
/** Well above Sonnet's 1,024-token minimum cacheable prefix. */
const SYSTEM = `You are a careful changelog editor. ${'Keep entries short and dated. '.repeat(400)}`;

let server: ScriptedServer | undefined;
let gateway: ModelGateway | undefined;

afterEach(async () => {
  await gateway?.close();
  await server?.close();
  gateway = undefined;
  server = undefined;
});

async function start(warm: boolean): Promise<ModelGateway> {
  server = await startScriptedServer({
    script: scriptSchema.parse({ rules: [{ reply: { content: [{ type: 'text', text: 'ok' }] } }] }),
    latencyMs: 400,
  });
  return startModelGateway({
    upstreamBaseURL: server.url,
    upstreamApiKey: 'sk-real',
    ...(warm ? {} : { cacheWarmer: null }),
  });
}

/** One trial's first call: the shared system prompt marked for caching, then its own task. */
async function firstCall(gw: ModelGateway, task: string, system = SYSTEM) {
  const trial = gw.openTrial(task);
  const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': trial.apiKey,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: 64,
      system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: task }],
    }),
  });
  expect(res.status).toBe(200);
  await res.text();
  return trial.usage();
}

describe('model gateway cache warm-up', () => {
  it('holds a concurrent trial sharing a prefix until the first has written it', async () => {
    gateway = await start(true);
    const gw = gateway;
    const [a, b, c] = await Promise.all(
      ['task a', 'task b', 'task c'].map((t) => firstCall(gw, t)),
    );
    const usages = [a, b, c];
    const writers = usages.filter((u) => u?.cache_read_input_tokens === 0);
    const readers = usages.filter((u) => (u?.cache_read_input_tokens ?? 0) > 0);
    expect(writers).toHaveLength(1);
    expect(readers).toHaveLength(2);
    expect(writers[0]?.cache_creation_input_tokens).toBeGreaterThan(1024);
  });

  it('without a warmer, concurrent trials all miss and each writes the prefix', async () => {
    gateway = await start(false);
    const gw = gateway;
    const usages = await Promise.all(['task a', 'task b', 'task c'].map((t) => firstCall(gw, t)));
    for (const u of usages) {
      expect(u.cache_read_input_tokens).toBe(0);
      expect(u.cache_creation_input_tokens).toBeGreaterThan(1024);
    }
  });

  it('does not hold trials that share no cacheable prefix', async () => {
    gateway = await start(true);
    const gw = gateway;
    const started = performance.now();
    const usages = await Promise.all(
      ['one', 'two', 'three'].map((t) => firstCall(gw, t, `${t}: ${SYSTEM}`)),
    );
    // Held, they would take three answers' latency (1,200 ms) one after the other.
    expect(performance.now() - started).toBeLessThan(1000);
    for (const u of usages) expect(u.cache_read_input_tokens).toBe(0);
  });

  it('forwards a body of another shape for the upstream to judge', async () => {
    gateway = await start(true);
    const trial = gateway.openTrial('count');
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': trial.apiKey },
      body: JSON.stringify({ model: MODEL, messages: 'not a list' }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid request');
  });
});
