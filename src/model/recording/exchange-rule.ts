import { tmpdir } from 'node:os';
import { freshFolderPattern, tempFoldersIn } from '../scripted/digest.js';
import { messagesRequestSchema, viewRequest } from '../scripted/request.js';
import type { ReplySpec, Rule } from '../scripted/script.js';
import { USAGE_FIELDS } from '../usage.js';
import type { RecordedExchange } from './proxy.js';

/**
 * Turns one recorded exchange into a scripted-server rule that answers the same request the same
 * way: keyed by the request's digest (plus its model and turn, for a reader), used once, so
 * identical requests (trials of one probe) get the recorded answers in recorded order.
 */

type ReplyBlock = ReplySpec['content'][number];
type ReplyUsage = NonNullable<ReplySpec['usage']>;

interface RawBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
  /** Streamed tool input, joined from `input_json_delta` events. */
  partialJson?: string;
}

interface RawMessage {
  content: RawBlock[];
  stop_reason: string | null;
  usage: Record<string, unknown>;
}

const STOP_REASONS = new Set([
  'end_turn',
  'tool_use',
  'max_tokens',
  'stop_sequence',
  'pause_turn',
  'refusal',
]);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The message a server-sent-event stream carried; null when the stream did not end properly. */
export function messageOfStream(stream: string): RawMessage | null {
  const message: RawMessage = { content: [], stop_reason: null, usage: {} };
  let stopped = false;
  for (const event of stream.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '') continue;
    const parsed = parseJson(data);
    if (!isObject(parsed)) return null;
    const index = typeof parsed.index === 'number' ? parsed.index : -1;
    switch (parsed.type) {
      case 'message_start':
        if (isObject(parsed.message) && isObject(parsed.message.usage)) {
          Object.assign(message.usage, parsed.message.usage);
        }
        break;
      case 'content_block_start':
        if (!isObject(parsed.content_block)) return null;
        message.content[index] = { ...(parsed.content_block as unknown as RawBlock) };
        break;
      case 'content_block_delta': {
        const block = message.content[index];
        const delta = parsed.delta;
        if (block === undefined || !isObject(delta)) return null;
        if (delta.type === 'text_delta') block.text = `${block.text ?? ''}${String(delta.text)}`;
        if (delta.type === 'input_json_delta') {
          block.partialJson = `${block.partialJson ?? ''}${String(delta.partial_json)}`;
        }
        break;
      }
      case 'message_delta':
        if (isObject(parsed.delta) && typeof parsed.delta.stop_reason === 'string') {
          message.stop_reason = parsed.delta.stop_reason;
        }
        if (isObject(parsed.usage)) {
          for (const [k, v] of Object.entries(parsed.usage)) if (v !== null) message.usage[k] = v;
        }
        break;
      case 'message_stop':
        stopped = true;
        break;
      case 'error':
        return null;
    }
  }
  if (!stopped) return null;
  for (const block of message.content) {
    if (block?.partialJson === undefined) continue;
    const input = block.partialJson === '' ? {} : parseJson(block.partialJson);
    if (!isObject(input)) return null;
    block.input = input;
  }
  return message;
}

function messageOfJson(body: string): RawMessage | null {
  const parsed = parseJson(body);
  if (!isObject(parsed) || parsed.type !== 'message' || !Array.isArray(parsed.content)) {
    return null;
  }
  return {
    content: parsed.content as RawBlock[],
    stop_reason: typeof parsed.stop_reason === 'string' ? parsed.stop_reason : null,
    usage: isObject(parsed.usage) ? parsed.usage : {},
  };
}

/** Text and tool calls; thinking blocks are not part of the script format and are left out. */
function replyOf(message: RawMessage): ReplySpec {
  const content: ReplyBlock[] = [];
  for (const block of message.content) {
    if (block?.type === 'text') content.push({ type: 'text', text: block.text ?? '' });
    if (block?.type === 'tool_use' && typeof block.name === 'string') {
      content.push({
        type: 'tool_use',
        name: block.name,
        input: isObject(block.input) ? block.input : {},
      });
    }
  }
  const usage: ReplyUsage = {};
  for (const field of USAGE_FIELDS) {
    const value = message.usage[field];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) usage[field] = value;
  }
  return {
    content: content.length > 0 ? content : [{ type: 'text', text: '' }],
    ...(message.stop_reason !== null && STOP_REASONS.has(message.stop_reason)
      ? { stop_reason: message.stop_reason as NonNullable<ReplySpec['stop_reason']> }
      : {}),
    usage,
  };
}

/** Every string under `value` with `from` replaced by `to`. */
function replaceDeep<T>(value: T, from: string, to: string): T {
  if (typeof value === 'string') return value.replaceAll(from, to) as T;
  if (Array.isArray(value)) return value.map((v) => replaceDeep(v, from, to)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, replaceDeep(v, from, to)]),
    ) as T;
  }
  return value;
}

/**
 * A reply naming a temp folder the request named (an agent writing into its trial workspace)
 * must name the replay's folder instead: each becomes `{{tmpN}}`, captured from the request by
 * `when.matches`. Null `matches` when the reply names none.
 */
function withFreshFolders(
  reply: ReplySpec,
  requestText: string,
  tempRoots: readonly string[],
): { reply: ReplySpec; matches: string | null } {
  let out = reply;
  const groups: string[] = [];
  for (const folder of tempFoldersIn(requestText, tempRoots)) {
    if (!JSON.stringify(out).includes(folder)) continue;
    const name = `tmp${groups.length + 1}`;
    out = replaceDeep(out, folder, `{{${name}}}`);
    groups.push(`(?=[\\s\\S]*?(?<${name}>${freshFolderPattern(folder)}))`);
  }
  return { reply: out, matches: groups.length === 0 ? null : `^${groups.join('')}` };
}

const FAULT_STATUSES = new Set([429, 529, 500]);

/**
 * The rule replaying an exchange, named `name`; null when the script format cannot say it (an
 * answer other than a message or a 429/529/500, e.g. a 400 the API sent back).
 */
export function ruleOfExchange(
  exchange: RecordedExchange,
  name: string,
  tempRoots: readonly string[] = [tmpdir()],
): Rule | null {
  const request = messagesRequestSchema.safeParse(parseJson(exchange.request));
  if (!request.success) return null;
  const view = viewRequest(request.data);
  const when = {
    digest: view.digest,
    model: view.model,
    turn: view.turn,
    ...(exchange.trial === null ? {} : { trial: exchange.trial }),
  };
  if (FAULT_STATUSES.has(exchange.status)) {
    const fault = exchange.status as 429 | 529 | 500;
    return {
      name,
      when,
      fault,
      times: 1,
      ...(fault === 429 && exchange.retryAfterMs !== null
        ? { retry_after_ms: exchange.retryAfterMs }
        : {}),
    };
  }
  if (exchange.status !== 200) return null;
  const message =
    request.data.stream === true
      ? messageOfStream(exchange.response)
      : messageOfJson(exchange.response);
  if (message === null) return { name, when, fault: 'malformed', times: 1 };
  const fresh = withFreshFolders(replyOf(message), view.allText, tempRoots);
  return {
    name,
    when: fresh.matches === null ? when : { ...when, matches: fresh.matches },
    reply: fresh.reply,
    times: 1,
  };
}
