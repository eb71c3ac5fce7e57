import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ModelUnavailableError } from '../../../src/errors.js';
import { createModelClient } from '../../../src/model/client.js';
import {
  type ChaosSettings,
  chaosSchema,
  disturbReply,
} from '../../../src/model/scripted/chaos.js';
import type { ReplyMessage } from '../../../src/model/scripted/reply.js';
import { callStructured, OutputTruncatedError } from '../../../src/model/structured.js';
import { serve } from './helpers.js';

/** A structured answer (`record_answer`) and a plain reply for anything else. */
const SCRIPT = `
rules:
  - name: answer
    when: { tool_offered: record_answer }
    reply:
      content:
        - type: tool_use
          name: record_answer
          input:
            verdict: approve
            note: looks fine
            diff: "--- a/SKILL.md\\n+++ b/SKILL.md\\n@@ -1,2 +1,3 @@\\n # Title\\n+New line\\n text\\n"
  - name: plain
    reply: { content: [{ type: text, text: fine }] }
`;

const answerSchema = z.strictObject({
  verdict: z.enum(['approve', 'reject']),
  note: z.string().optional(),
  diff: z.string(),
});

const settings = (s: Partial<ChaosSettings> & { seed: number }): ChaosSettings =>
  chaosSchema.parse({ stall_ms: 20, ...s });

function client(url: string, maxAttempts = 6) {
  return createModelClient({
    apiKey: 'scripted',
    baseURL: url,
    baseDelayMs: 1,
    maxAttempts,
    streamIdleMs: 1000,
  });
}

const ask = (text: string) => ({
  model: 'claude-test-1',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: text }],
});

function structured(url: string, question: string) {
  return callStructured({
    client: client(url),
    model: 'claude-test-1',
    messages: [{ role: 'user', content: question }],
    schema: answerSchema,
    toolName: 'record_answer',
    toolDescription: 'Record the answer',
    tag: 'validator',
    maxTokens: 1000,
    toolChoice: 'forced',
  });
}

/** What answered each of a fixed sequence of requests. */
async function dispositions(chaos: ChaosSettings): Promise<Array<string | null>> {
  const server = await serve(SCRIPT, { chaos });
  const c = client(server.url);
  for (let i = 0; i < 12; i++) await c.create(ask(`question ${i % 4}`), { tag: 'trial' });
  for (let i = 0; i < 4; i++) await structured(server.url, `review ${i}`);
  return server.requests.map((r) => r.rule);
}

describe('chaos mode of the scripted server', () => {
  it('is seeded: the same seed disturbs the same requests the same way, another seed differently', async () => {
    const a = await dispositions(settings({ seed: 7, rate: 0.5 }));
    const b = await dispositions(settings({ seed: 7, rate: 0.5 }));
    const c = await dispositions(settings({ seed: 8, rate: 0.5 }));
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.some((rule) => rule?.startsWith('chaos: '))).toBe(true);
  });

  it('rate 0 answers exactly as scripted', async () => {
    const rules = await dispositions(settings({ seed: 7, rate: 0 }));
    expect(rules.every((r) => r === 'plain' || r === 'answer')).toBe(true);
  });

  it('only transport faults reach requests that are not structured calls (trials)', async () => {
    const server = await serve(SCRIPT, { chaos: settings({ seed: 3, rate: 1, kinds: ['fence'] }) });
    const reply = await client(server.url).create(ask('question'), { tag: 'trial' });
    expect(reply.content).toMatchObject([{ type: 'text', text: 'fine' }]);
  });

  it('max-tokens: a structured call that cannot split its answer fails with a named error, unrepaired', async () => {
    const server = await serve(SCRIPT, {
      chaos: settings({ seed: 1, rate: 1, kinds: ['max-tokens'] }),
    });
    await expect(structured(server.url, 'review')).rejects.toThrow(OutputTruncatedError);
    expect(server.requests.map((r) => r.rule)).toEqual(['answer (chaos: max-tokens)']);
  });

  for (const kind of ['prose', 'fence', 'extra-field', 'refusal'] as const) {
    it(`${kind}: the structured call repairs it and gets the scripted answer`, async () => {
      const server = await serve(SCRIPT, { chaos: settings({ seed: 1, rate: 1, kinds: [kind] }) });
      const value = await structured(server.url, 'review');
      expect(value).toMatchObject({ verdict: 'approve', note: 'looks fine' });
      expect(server.requests.map((r) => r.rule)).toEqual([
        `answer (chaos: ${kind})`,
        'chaos: repair',
      ]);
    });
  }

  it('missing-optional drops a field the schema does not require; the answer still validates', async () => {
    const server = await serve(SCRIPT, {
      chaos: settings({ seed: 1, rate: 1, kinds: ['missing-optional'] }),
    });
    const value = await structured(server.url, 'review');
    expect(value).toEqual({ verdict: 'approve', diff: expect.any(String) });
  });

  it('near-miss-edit puts a unified diff hunk header one line off', async () => {
    const server = await serve(SCRIPT, {
      chaos: settings({ seed: 1, rate: 1, kinds: ['near-miss-edit'] }),
    });
    const value = await structured(server.url, 'review');
    expect(value.diff).toContain('@@ -1,3 +1,3 @@');
  });

  for (const kind of ['429', '529', '500', 'truncated', 'stall'] as const) {
    it(`${kind}: the client retries it, and names it once every attempt failed`, async () => {
      const flaky = await serve(SCRIPT, { chaos: settings({ seed: 2, rate: 0.5, kinds: [kind] }) });
      for (let i = 0; i < 6; i++) {
        const reply = await client(flaky.url).create(ask(`q${i}`), { tag: 'trial' });
        expect(reply.content).toMatchObject([{ type: 'text', text: 'fine' }]);
      }
      expect(flaky.requests.some((r) => r.rule === `chaos: ${kind}`)).toBe(true);

      const broken = await serve(SCRIPT, { chaos: settings({ seed: 2, rate: 1, kinds: [kind] }) });
      const failed = client(broken.url, 2).stream(ask('q'), { tag: 'analyst' });
      await expect(failed).rejects.toBeInstanceOf(ModelUnavailableError);
      await expect(failed).rejects.toThrow(/after 2 attempts/);
    });
  }
});

describe('disturbReply', () => {
  const message: ReplyMessage = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'm',
    content: [{ type: 'tool_use', id: 'toolu_1', name: 't', input: { a: 1, b: 2, c: 3, d: 4 } }],
    stop_reason: 'tool_use',
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: {
      input_tokens: 1,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      server_tool_use: null,
      service_tier: 'standard',
    },
  };
  const tool = { name: 't', required: ['a', 'b', 'c', 'd'] };

  it('max-tokens cuts the input short and says so in stop_reason', () => {
    expect(disturbReply('max-tokens', message, tool)).toMatchObject({
      stop_reason: 'max_tokens',
      content: [{ type: 'tool_use', input: { a: 1, b: 2 } }],
    });
  });

  it('does not apply where nothing fits: no optional field, no edit, another tool', () => {
    expect(disturbReply('missing-optional', message, tool)).toBeNull();
    expect(disturbReply('near-miss-edit', message, tool)).toBeNull();
    expect(disturbReply('fence', message, { name: 'other', required: [] })).toBeNull();
  });
});
