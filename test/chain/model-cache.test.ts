import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createChainModel } from '../../src/chain/model.js';
import { defaultConfig } from '../../src/config/schema.js';
import { createModelClient, type ModelClient } from '../../src/model/client.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import type { Usage } from '../../src/model/usage.js';

const MODEL = 'claude-sonnet-4-6';
/** Role instructions and skill text shared by parallel calls: ~2,000 tokens counted low. */
const SHARED = 'Write one probe for the skill below, following its conventions. '.repeat(160);
const SCRIPT = `
rules:
  - reply:
      content:
        - { type: tool_use, name: submit_probe, input: { id: probe-1 } }
`;
const output = {
  schema: z.strictObject({ id: z.string() }),
  toolName: 'submit_probe',
  toolDescription: 'Submit the probe.',
};

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setUp(latencyMs: number, warmCache?: boolean) {
  const server = await startScriptedServer({
    script: parseScript(SCRIPT, 'inline.yaml'),
    latencyMs,
  });
  servers.push(server);
  const client = createModelClient({ apiKey: 'test-key', baseURL: server.url, maxAttempts: 1 });
  const usages: Usage[] = [];
  const recording: ModelClient = {
    async create(params, meta) {
      const reply = await client.create(params, meta);
      usages.push(reply.usage as Usage);
      return reply;
    },
    stream: (params, meta) => client.stream(params, meta),
    ledger: client.ledger,
  };
  const config = defaultConfig();
  const model = createChainModel(
    recording,
    { ...config.models, evaluator: MODEL, optimizer: MODEL },
    { contextShare: config.context_share, ...(warmCache === undefined ? {} : { warmCache }) },
  );
  return { server, model, usages };
}

type Block = { type: string; text?: string; cache_control?: unknown };

describe('chain role requests and the prompt cache', () => {
  it('puts the shared part first with a breakpoint after it, and the task after that', async () => {
    const { server, model } = await setUp(0);
    await model.call('test-writer', { shared: SHARED, task: 'Probe: add-entry' }, output);
    const body = server.requests[0]?.body as {
      tools: Block[];
      system: Block[];
      messages: { content: Block[] }[];
    };
    expect(body.tools.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.system.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    const [shared, task] = body.messages[0]?.content ?? [];
    expect(shared).toEqual({ type: 'text', text: SHARED, cache_control: { type: 'ephemeral' } });
    expect(task).toEqual({ type: 'text', text: 'Probe: add-entry' });
    expect(JSON.stringify(body).split('"cache_control"').length - 1).toBeLessThanOrEqual(4);
  });

  it('with warmCache, warms the cache with one call before parallel calls sharing the prefix go out', async () => {
    const { model, usages } = await setUp(300, true);
    await Promise.all(
      ['a', 'b', 'c'].map((probe) =>
        model.call('test-writer', { shared: SHARED, task: `Probe: ${probe}` }, output),
      ),
    );
    const [first, ...rest] = usages;
    expect(first?.cache_read_input_tokens).toBe(0);
    expect(first?.cache_creation_input_tokens).toBeGreaterThan(2000);
    for (const u of rest) {
      // Everything up to the shared part's breakpoint is read, nothing written again.
      expect(u.cache_read_input_tokens).toBe(first?.cache_creation_input_tokens);
      expect(u.cache_creation_input_tokens).toBe(0);
    }
  });

  it('sends parallel calls at once by default: each misses and writes the prefix', async () => {
    const { model, usages } = await setUp(300);
    await Promise.all(
      ['a', 'b'].map((probe) =>
        model.call('test-writer', { shared: SHARED, task: `Probe: ${probe}` }, output),
      ),
    );
    for (const u of usages) {
      expect(u.cache_read_input_tokens).toBe(0);
      expect(u.cache_creation_input_tokens).toBeGreaterThan(2000);
    }
  });
});
