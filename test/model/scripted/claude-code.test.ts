import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScript } from '../../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../../src/model/scripted/server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the real Claude Code agent against the server; aborts it after 60 s. */
async function runAgent(
  server: ScriptedServer,
  dirs: { cwd: string; home: string },
  prompt: string,
  quiet = true,
) {
  const abortController = new AbortController();
  const timer = setTimeout(() => abortController.abort(), 60_000);
  const stderr: string[] = [];
  const messages: SDKMessage[] = [];
  try {
    const run = query({
      prompt,
      options: {
        cwd: dirs.cwd,
        abortController,
        permissionMode: 'bypassPermissions',
        allowDangerouslySkipPermissions: true,
        stderr: (line) => stderr.push(line),
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dirs.home,
          ANTHROPIC_BASE_URL: server.url,
          ANTHROPIC_API_KEY: 'dummy',
          IS_SANDBOX: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_AUTOUPDATER: '1',
          DISABLE_ERROR_REPORTING: '1',
          ...(quiet ? { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } : {}),
        },
      },
    });
    for await (const message of run) messages.push(message);
  } finally {
    clearTimeout(timer);
  }
  return { messages, stderr };
}

describe('the real Claude Code agent against the scripted server', () => {
  it('makes the scripted Write call and returns the scripted final text', async () => {
    const script = await loadScript('test/fixtures/scripts/claude-code-write.yaml');
    const server = await startScriptedServer({ script });
    cleanups.push(() => server.close());
    const cwd = await tempDir('cc-work-');
    const home = await tempDir('cc-home-');

    const { messages, stderr } = await runAgent(server, { cwd, home }, 'Create hello.txt, please.');

    const result = messages.find((m) => m.type === 'result');
    expect(result, stderr.join('')).toMatchObject({
      subtype: 'success',
      is_error: false,
      result: 'Created hello.txt with a greeting.',
    });
    expect(await readFile(join(cwd, 'hello.txt'), 'utf8')).toBe('hello from the scripted model\n');

    const calls = server.requests.filter((r) => r.path === '/v1/messages');
    expect(calls.map((r) => r.rule)).toEqual(['write-file', 'done']);
    // Claude Code marks its system prompt for caching: turn 2 reads what turn 1 wrote.
    expect(result?.type === 'result' && result.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });

  it('answers the side requests Claude Code sends when nonessential traffic is on', async () => {
    const script = await loadScript('test/fixtures/scripts/claude-code-write.yaml');
    const server = await startScriptedServer({ script });
    cleanups.push(() => server.close());
    const dirs = { cwd: await tempDir('cc-work-'), home: await tempDir('cc-home-') };

    const { messages, stderr } = await runAgent(server, dirs, 'Create hello.txt, please.', false);

    expect(
      messages.find((m) => m.type === 'result'),
      stderr.join(''),
    ).toMatchObject({
      subtype: 'success',
      result: 'Created hello.txt with a greeting.',
    });
    const seen = server.requests.map((r) => `${r.path} ${r.rule ?? '-'}`);
    // A connectivity check, a session-title request with its own system prompt, then the turns.
    expect(seen).toContain('/api/hello -');
    expect(seen).toContain('/v1/messages session-title');
    expect(seen.filter((s) => s.startsWith('/v1/messages '))).toHaveLength(3);
    expect(server.requests.every((r) => r.path !== '/v1/messages' || r.rule !== null)).toBe(true);
  });
});
