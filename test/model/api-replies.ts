/** Response bodies shaped like the Messages API's, for nock replies. */

export const API = 'https://api.anthropic.com';
export const API_KEY = 'sk-ant-api03-TESTKEY-never-printed-0123456789';

export interface ReplyUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

function usage(u: ReplyUsage = {}) {
  return {
    input_tokens: u.input_tokens ?? 10,
    output_tokens: u.output_tokens ?? 5,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
  };
}

export function textReply(text: string, opts: { model?: string; usage?: ReplyUsage } = {}) {
  return {
    id: 'msg_text',
    type: 'message',
    role: 'assistant',
    model: opts.model ?? 'claude-haiku-4-5-20251001',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: usage(opts.usage),
  };
}

export function toolReply(
  name: string,
  input: unknown,
  opts: { id?: string; model?: string; usage?: ReplyUsage } = {},
) {
  return {
    id: 'msg_tool',
    type: 'message',
    role: 'assistant',
    model: opts.model ?? 'claude-haiku-4-5-20251001',
    content: [{ type: 'tool_use', id: opts.id ?? 'toolu_1', name, input }],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: usage(opts.usage),
  };
}

export function errorBody(type: string, message: string) {
  return { type: 'error', error: { type, message } };
}

/** A streamed reply as server-sent events, optionally failing with an `error` event instead. */
export function sseReply(text: string, opts: { error?: string } = {}): string {
  const event = (name: string, data: unknown) =>
    `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  if (opts.error) return event('error', errorBody(opts.error, 'Overloaded'));
  const start = { ...textReply(''), content: [], stop_reason: null };
  return [
    event('message_start', { type: 'message_start', message: start }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text },
    }),
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 7 },
    }),
    event('message_stop', { type: 'message_stop' }),
  ].join('');
}

/** A fake clock whose time only moves when the injected sleep is called. */
export function fakeTime() {
  let t = 1_000_000;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
  };
}

/** A log sink that keeps every line. */
export function memoryLog() {
  const lines: string[] = [];
  return {
    lines,
    log: {
      warn: (m: string) => lines.push(`warn ${m}`),
      info: (m: string) => lines.push(`info ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    },
  };
}
