import { describe, expect, it } from 'vitest';
import { byFirstRequest, requestKinds } from '../../bench/claude-code-bench.js';
import type { TrialSpan } from '../../bench/scripted-bench.js';
import type { RecordedRequest } from '../../src/model/scripted/server.js';
import { TRIAL_HEADER } from '../../src/model/trial-header.js';

const usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};
const span = (trial: string, start: number): TrialSpan => ({
  trial,
  probe: trial.split('#')[0] ?? '',
  model: 'claude-sonnet-4-6',
  start,
  end: start + 1,
  usage,
});
const request = (
  path: string,
  trial: string | null,
  body: RecordedRequest['body'] = null,
): RecordedRequest => ({
  path,
  headers: trial === null ? {} : { [TRIAL_HEADER]: trial },
  body,
  rule: null,
});

describe('byFirstRequest', () => {
  it('orders trials by when their first request reached the model, not by when they started', () => {
    const spans = [span('a#1', 0), span('a#2', 1), span('b#1', 2)];
    const requests = [
      request('/api/hello', null),
      request('/v1/messages', 'a#2'),
      request('/v1/messages', 'b#1'),
      request('/v1/messages', 'a#2'),
      request('/v1/messages', 'a#1'),
    ];
    expect(byFirstRequest(spans, requests).map((s) => s.trial)).toEqual(['a#2', 'b#1', 'a#1']);
  });

  it('puts trials that sent nothing last, in their start order', () => {
    const spans = [span('a#1', 0), span('a#2', 1), span('a#3', 2)];
    const requests = [request('/v1/messages', 'a#3')];
    expect(byFirstRequest(spans, requests).map((s) => s.trial)).toEqual(['a#3', 'a#1', 'a#2']);
  });
});

describe('requestKinds', () => {
  it('tells agent turns from tool-less side calls and token counts', () => {
    const tools = [{ name: 'Read', input_schema: { type: 'object' } }];
    const kinds = requestKinds([
      request('/v1/messages', 'a#1', { model: 'm', tools, messages: [] }),
      request('/v1/messages', 'a#1', { model: 'm', messages: [] }),
      request('/v1/messages/count_tokens', 'a#1', { model: 'm', tools, messages: [] }),
      request('/api/hello', null),
    ]);
    expect(kinds).toEqual({ turns: 1, side: 1, other: 2 });
  });
});
