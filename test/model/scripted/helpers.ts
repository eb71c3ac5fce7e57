import Anthropic from '@anthropic-ai/sdk';
import { afterEach } from 'vitest';
import { parseScript } from '../../../src/model/scripted/script.js';
import {
  type ScriptedServer,
  type ScriptedServerOptions,
  startScriptedServer,
} from '../../../src/model/scripted/server.js';

const open: ScriptedServer[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** Starts a server on an inline YAML script; closed after the test. */
export async function serve(
  yaml: string,
  opts: Omit<ScriptedServerOptions, 'script'> = {},
): Promise<ScriptedServer> {
  const server = await startScriptedServer({ ...opts, script: parseScript(yaml, 'inline.yaml') });
  open.push(server);
  return server;
}

export function clientFor(server: ScriptedServer, opts: { maxRetries?: number } = {}): Anthropic {
  return new Anthropic({ baseURL: server.url, apiKey: 'dummy', maxRetries: opts.maxRetries ?? 0 });
}

export const ask = (text: string) => ({
  model: 'claude-test-1',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: text }],
});

/** The text of the first text block of a message. */
export function firstText(message: Anthropic.Message): string {
  const block = message.content.find((b) => b.type === 'text');
  return block?.type === 'text' ? block.text : '';
}
