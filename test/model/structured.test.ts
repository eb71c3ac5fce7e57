import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SkillOptimizerError } from '../../src/errors.js';
import { createModelClient } from '../../src/model/client.js';
import {
  callStructured,
  InvalidModelOutputError,
  OutputTruncatedError,
  supportsForcedToolChoice,
  toolInputSchema,
} from '../../src/model/structured.js';
import { API, API_KEY, fakeTime, textReply, toolReply } from './api-replies.js';

const Verdict = z.object({
  score: z.number().min(0).max(1),
  reasons: z.array(z.string()).min(1),
  label: z.enum(['good', 'bad']).default('good'),
});

const EPH = { type: 'ephemeral' };

interface SentBody {
  tools: Array<Record<string, unknown>>;
  tool_choice: unknown;
  system: unknown;
  messages: Array<{ role: string; content: unknown }>;
}

function capture() {
  const bodies: SentBody[] = [];
  const matcher = (body: SentBody) => {
    bodies.push(body);
    return true;
  };
  return { bodies, matcher };
}

function makeClient() {
  const time = fakeTime();
  return createModelClient({
    apiKey: API_KEY,
    sleep: time.sleep,
    now: time.now,
    random: () => 0.5,
  });
}

const call = (client: ReturnType<typeof makeClient>) => ({
  client,
  model: 'claude-haiku-4-5',
  system: 'You grade transcripts.',
  messages: [{ role: 'user' as const, content: 'Grade this.' }],
  schema: Verdict,
  toolName: 'submit_verdict',
  toolDescription: 'Submit the verdict.',
  tag: 'evaluator',
  maxTokens: 1024,
});

afterEach(() => {
  nock.cleanAll();
});

describe('toolInputSchema', () => {
  it('is the JSON Schema of the input side, without $schema', () => {
    expect(toolInputSchema(Verdict)).toEqual({
      type: 'object',
      properties: {
        score: { type: 'number', minimum: 0, maximum: 1 },
        reasons: { type: 'array', items: { type: 'string' }, minItems: 1 },
        label: { type: 'string', enum: ['good', 'bad'], default: 'good' },
      },
      required: ['score', 'reasons'],
    });
  });

  it('refuses a schema that is not an object', () => {
    expect(() => toolInputSchema(z.array(z.string()))).toThrow(TypeError);
  });
});

describe('callStructured', () => {
  it('forces the tool, marks the cache, and returns the validated input', async () => {
    const { bodies, matcher } = capture();
    const scope = nock(API)
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.8, reasons: ['clear'] }));
    const client = makeClient();
    const verdict = await callStructured(call(client));
    expect(verdict).toEqual({ score: 0.8, reasons: ['clear'], label: 'good' });
    expect(scope.isDone()).toBe(true);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 1024,
      system: [{ type: 'text', text: 'You grade transcripts.', cache_control: EPH }],
      messages: [{ role: 'user', content: 'Grade this.' }],
      tools: [
        {
          name: 'submit_verdict',
          description: 'Submit the verdict.',
          input_schema: toolInputSchema(Verdict),
          cache_control: EPH,
        },
      ],
      tool_choice: { type: 'tool', name: 'submit_verdict' },
    });
    expect(client.ledger.summary().by_tag.evaluator?.calls).toBe(1);
  });

  it('repairs once: sends the zod issues back as an error tool result', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 'high', reasons: [] }, { id: 'toolu_bad' }))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.2, reasons: ['fixed'], label: 'bad' }));
    const client = makeClient();
    const verdict = await callStructured(call(client));
    expect(verdict).toEqual({ score: 0.2, reasons: ['fixed'], label: 'bad' });

    const repair = bodies[1];
    expect(repair?.messages.slice(0, 1)).toEqual([{ role: 'user', content: 'Grade this.' }]);
    expect(repair?.messages[1]).toEqual({
      role: 'assistant',
      content: [
        {
          type: 'tool_use',
          id: 'toolu_bad',
          name: 'submit_verdict',
          input: { score: 'high', reasons: [] },
        },
      ],
    });
    const user = repair?.messages[2];
    expect(user?.role).toBe('user');
    expect(user?.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_bad',
        is_error: true,
        content:
          'Your input for the tool `submit_verdict` could not be used:\n' +
          '<untrusted_data label="issues">\n' +
          '- score: Invalid input: expected number, received string\n' +
          '- reasons: Too small: expected array to have >=1 items\n' +
          '</untrusted_data>\n\n' +
          'Call `submit_verdict` again, with input that fixes every problem listed above.\n',
      },
    ]);
    // Same tool, same forced choice, same cache marks on the repair.
    expect(repair?.tools).toEqual(bodies[0]?.tools);
    expect(repair?.tool_choice).toEqual({ type: 'tool', name: 'submit_verdict' });
    expect(client.ledger.summary().by_tag.evaluator?.calls).toBe(2);
  });

  it('repairs a reply without a tool call with a plain user turn', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, textReply('I think it is good.'))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 1, reasons: ['ok'] }));
    const verdict = await callStructured(call(makeClient()));
    expect(verdict.score).toBe(1);
    expect(bodies[1]?.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'text', text: 'I think it is good.' }] },
      {
        role: 'user',
        content: [
          {
            type: 'text',
            text:
              'Your input for the tool `submit_verdict` could not be used:\n' +
              '<untrusted_data label="issues">\n' +
              '- no call to the tool submit_verdict (stop_reason: end_turn)\n' +
              '</untrusted_data>\n\n' +
              'Call `submit_verdict` again, with input that fixes every problem listed above.\n',
          },
        ],
      },
    ]);
  });

  it('drops a call to another tool from the repair, since it would need its own result', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, toolReply('other_tool', { x: 1 }, { id: 'toolu_other' }))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 1, reasons: ['ok'] }));
    await callStructured(call(makeClient()));
    const turns = bodies[1]?.messages.slice(1);
    expect(turns).toHaveLength(1);
    expect(turns?.[0]?.role).toBe('user');
    expect(JSON.stringify(turns)).not.toContain('toolu_other');
  });

  it('fails with InvalidModelOutputError naming the role and the issues after a failed repair', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(200, toolReply('submit_verdict', { score: 2, reasons: ['x'] }))
      .post('/v1/messages')
      .reply(200, toolReply('submit_verdict', { score: 3, reasons: ['x'] }));
    const error = await callStructured(call(makeClient())).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(scope.isDone()).toBe(true);
    expect(error).toBeInstanceOf(InvalidModelOutputError);
    expect(error).toBeInstanceOf(SkillOptimizerError);
    expect((error as InvalidModelOutputError).tag).toBe('evaluator');
    expect((error as InvalidModelOutputError).issues).toEqual([
      'score: Too big: expected number to be <=1',
    ]);
    expect((error as Error).message).toBe(
      'The evaluator model returned output that does not pass its checks, 2 times (after 1 repair attempt): score: Too big: expected number to be <=1',
    );
  });

  it('instructs instead of forcing the tool on models that reject a forced tool choice', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.5, reasons: ['fine'] }));
    const verdict = await callStructured({ ...call(makeClient()), model: 'claude-opus-5-5' });
    expect(verdict.score).toBe(0.5);
    expect(bodies[0]?.tool_choice).toEqual({ type: 'auto' });
    expect(bodies[0]?.system).toEqual([
      { type: 'text', text: 'You grade transcripts.' },
      {
        type: 'text',
        text: 'Give your answer only by calling the tool `submit_verdict` exactly once, with input that matches its schema. Do not answer in plain text.\n',
        cache_control: EPH,
      },
    ]);
  });

  it('lets the caller force or instruct explicitly', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .times(2)
      .reply(200, toolReply('submit_verdict', { score: 0.5, reasons: ['fine'] }));
    await callStructured({ ...call(makeClient()), model: 'claude-opus-5-5', toolChoice: 'forced' });
    await callStructured({ ...call(makeClient()), toolChoice: 'instructed' });
    expect(bodies[0]?.tool_choice).toEqual({ type: 'tool', name: 'submit_verdict' });
    expect(bodies[1]?.tool_choice).toEqual({ type: 'auto' });
  });
});

const cut = (name: string, input: unknown, id = 'toolu_cut') => ({
  ...toolReply(name, input, { id }),
  stop_reason: 'max_tokens',
});

describe('callStructured validate hook', () => {
  it('sends each problem back in the same conversation, for as many repairs as allowed', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.1, reasons: ['a'] }, { id: 'toolu_a' }))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.2, reasons: ['b'] }, { id: 'toolu_b' }))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict', { score: 0.3, reasons: ['c'] }, { id: 'toolu_c' }));
    const verdict = await callStructured({
      ...call(makeClient()),
      repairs: 2,
      validate: (v) => (v.reasons[0] === 'c' ? [] : [`reason '${v.reasons[0]}' is not c`]),
    });
    expect(verdict.reasons).toEqual(['c']);
    const last = bodies[2]?.messages ?? [];
    // first ask, answer a, its error, answer b, its error: one growing conversation
    expect(last.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(JSON.stringify(last[2])).toContain("reason 'a' is not c");
    expect(JSON.stringify(last[4])).toContain("reason 'b' is not c");
    expect(JSON.stringify(last[4])).toContain('toolu_b');
  });

  it('throws with the last problem once the repairs are spent', async () => {
    nock(API)
      .post('/v1/messages')
      .times(3)
      .reply(200, toolReply('submit_verdict', { score: 0.1, reasons: ['a'] }));
    const error = await callStructured({
      ...call(makeClient()),
      repairs: 2,
      validate: () => ['never good'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidModelOutputError);
    expect((error as Error).message).toContain('3 times (after 2 repair attempts): never good');
  });
});

describe('callStructured at max_tokens', () => {
  it('does not repair a cut answer as invalid JSON: it throws OutputTruncatedError', async () => {
    const scope = nock(API)
      .post('/v1/messages')
      .reply(200, cut('submit_verdict', { score: 0.5 }));
    const error = await callStructured(call(makeClient())).catch((e: unknown) => e);
    expect(scope.isDone()).toBe(true);
    expect(error).toBeInstanceOf(OutputTruncatedError);
    expect((error as Error).message).toContain('cut off at its output limit of 1024 tokens');
  });

  it('asks a cut answer again in parts, in the same conversation, and joins them', async () => {
    const { bodies, matcher } = capture();
    nock(API)
      .post('/v1/messages', matcher)
      .reply(200, cut('submit_verdict', { score: 0.5 }))
      .post('/v1/messages', matcher)
      .reply(200, toolReply('submit_verdict_part_1_of_2', { score: 0.5 }, { id: 'toolu_p1' }))
      .post('/v1/messages', matcher)
      .reply(
        200,
        toolReply(
          'submit_verdict_part_2_of_2',
          { reasons: ['long'], label: 'bad' },
          { id: 'toolu_p2' },
        ),
      );
    const verdict = await callStructured({
      ...call(makeClient()),
      split: [['score'], ['reasons', 'label']],
    });
    expect(verdict).toEqual({ score: 0.5, reasons: ['long'], label: 'bad' });
    const first = bodies[1];
    expect(first?.tools.map((t) => t.name)).toEqual(['submit_verdict_part_1_of_2']);
    expect(first?.tool_choice).toEqual({ type: 'tool', name: 'submit_verdict_part_1_of_2' });
    expect(first?.messages[2]?.content).toEqual([
      expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_cut', is_error: true }),
    ]);
    expect(JSON.stringify(first?.messages[2])).toContain('cut off at the output limit of 1024');
    // the cut input is not sent again
    expect(first?.messages[1]?.content).toEqual([
      { type: 'tool_use', id: 'toolu_cut', name: 'submit_verdict', input: {} },
    ]);
    const second = bodies[2];
    expect(second?.tools.map((t) => t.name)).toEqual(['submit_verdict_part_2_of_2']);
    expect(second?.messages).toHaveLength(5);
    expect(second?.messages[4]?.content).toEqual([
      expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_p1', is_error: false }),
    ]);
    expect(JSON.stringify(second?.messages[4])).toContain('reasons+label');
  });

  it('gives up when a part is cut too', async () => {
    nock(API)
      .post('/v1/messages')
      .reply(200, cut('submit_verdict', {}))
      .post('/v1/messages')
      .reply(200, cut('submit_verdict_part_1_of_2', {}));
    const error = await callStructured({
      ...call(makeClient()),
      split: [['score'], ['reasons', 'label']],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputTruncatedError);
    expect((error as Error).message).toContain('part 1 of 2 of submit_verdict, score');
  });
});

describe('supportsForcedToolChoice', () => {
  it.each([
    ['claude-opus-5-5', false],
    ['claude-sonnet-5-5', false],
    ['claude-fable-5-1', false],
    ['claude-fable-5-1[1m]', false],
    ['anthropic.claude-opus-5-5', false],
    ['claude-opus-5', true],
    ['claude-sonnet-5', true],
    ['claude-fable-5', true],
    ['claude-haiku-4-5-20251001', true],
    ['claude-opus-4-5', true],
    ['claude-sonnet-4-5-20250929', true],
  ])('%s → %s', (model, expected) => {
    expect(supportsForcedToolChoice(model)).toBe(expected);
  });
});
