import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countInputTokens, PromptCache } from '../../../src/model/scripted/cache.js';
import {
  type MessagesRequest,
  messagesRequestSchema,
} from '../../../src/model/scripted/request.js';
import { serve } from './helpers.js';

const mark = fc.option(fc.constant({ type: 'ephemeral' }), { nil: undefined });
const textBlock = fc
  .record({ text: fc.string({ maxLength: 200 }), cache_control: mark })
  .map(({ text, cache_control }) => ({
    type: 'text',
    text,
    ...(cache_control && { cache_control }),
  }));
const request: fc.Arbitrary<MessagesRequest> = fc
  .record({
    system: fc.array(textBlock, { maxLength: 3 }),
    messages: fc.array(fc.array(textBlock, { minLength: 1, maxLength: 3 }), {
      minLength: 1,
      maxLength: 4,
    }),
  })
  .map(({ system, messages }) =>
    messagesRequestSchema.parse({
      model: 'm',
      system,
      messages: messages.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })),
    }),
  )
  // The API refuses more than 4 breakpoints (tested in cache.test.ts).
  .filter((req) => JSON.stringify(req).split('"cache_control"').length - 1 <= 4);

describe('scripted server properties', () => {
  it('splits input tokens without losing or inventing any, whatever was cached before', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 5 }), (requests) => {
        const cache = new PromptCache({ now: () => 0, minCacheableTokens: { m: 0 } });
        for (const req of requests) {
          const { usage, commit } = cache.account(req);
          commit();
          const sum =
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
          expect(sum).toBe(countInputTokens(req));
          expect(usage.cache_creation_input_tokens).toBe(
            usage.cache_creation.ephemeral_5m_input_tokens +
              usage.cache_creation.ephemeral_1h_input_tokens,
          );
          const parts = [
            usage.input_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
          ];
          for (const part of parts) expect(part).toBeGreaterThanOrEqual(0);
        }
        // The same request again reads everything up to its last mark.
        const last = requests.at(-1) as MessagesRequest;
        const again = cache.account(last).usage;
        expect(again.cache_creation_input_tokens).toBe(0);
      }),
    );
  });

  it('answers any JSON body with a response in the API shape, never crashing', async () => {
    const server = await serve('rules: [{ reply: { content: [{ type: text, text: ok }] } }]');
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (body) => {
        const res = await fetch(`${server.url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const answer = (await res.json()) as { type: string };
        if (res.status === 200) expect(answer.type).toBe('message');
        else {
          expect(res.status).toBe(400);
          expect(answer).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
        }
      }),
      { numRuns: 40 },
    );
  });
});
