import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openRecordingFile } from '../../../src/model/recording/file.js';
import { type RecordingProxy, startRecordingProxy } from '../../../src/model/recording/proxy.js';
import { maskVolatile } from '../../../src/model/scripted/digest.js';
import { loadScript } from '../../../src/model/scripted/script.js';
import { startScriptedServer } from '../../../src/model/scripted/server.js';
import { ask, firstText, serve } from '../scripted/helpers.js';

const base = mkdtempSync(join(tmpdir(), 'so-recording-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const proxies: RecordingProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const client = (url: string) => new Anthropic({ baseURL: url, apiKey: 'dummy', maxRetries: 2 });

async function proxyTo(url: string): Promise<RecordingProxy> {
  const proxy = await startRecordingProxy({ upstreamBaseURL: url });
  proxies.push(proxy);
  return proxy;
}

const UPSTREAM = `
rules:
  - name: busy
    when: { contains: busy }
    fault: 429
    retry_after_ms: 5
    times: 1
  - name: tool
    when: { turn: 1, contains: write }
    reply:
      content:
        - { type: text, text: "Writing it with key sk-ant-api03-abcdefghijklmnopqrstuvwx." }
        - { type: tool_use, name: Write, input: { path: a.txt, content: "hi\\n" } }
      usage: { output_tokens: 7 }
  - name: second
    when: { turn: 2 }
    reply: { content: [{ type: text, text: second turn }] }
  - name: plain
    reply: { content: [{ type: text, text: plain answer }] }
`;

describe('recording proxy', () => {
  it('forwards streamed and plain calls unchanged and records them as replayable rules', async () => {
    const upstream = await serve(UPSTREAM);
    const proxy = await proxyTo(upstream.url);
    const api = client(proxy.url);
    const streamed = await api.messages
      .stream({
        ...ask('please write a.txt'),
        tools: [{ name: 'Write', input_schema: { type: 'object' } }],
      })
      .finalMessage();
    expect(streamed.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'Write',
      input: { path: 'a.txt', content: 'hi\n' },
    });
    const followUp = {
      model: 'claude-test-1',
      max_tokens: 100,
      messages: [
        { role: 'user' as const, content: 'please write a.txt' },
        { role: 'assistant' as const, content: 'ok' },
        {
          role: 'user' as const,
          content: `done at ${tmpdir()}/so-trial-Ab12Cd/a.txt on 2026-12-05T04:04:35.794Z`,
        },
      ],
    };
    expect(firstText(await api.messages.create(followUp))).toBe('second turn');
    // a 429 then its retry: both exchanges are kept, in order
    expect(firstText(await api.messages.create(ask('busy now?')))).toBe('plain answer');
    expect(proxy.exchanges.map((e) => e.status)).toEqual([200, 200, 429, 200]);

    const path = join(base, 'rec.yml');
    const file = await openRecordingFile(path);
    expect(await file.append(proxy.exchanges)).toEqual({ written: 4, skipped: 0 });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('sk-ant-api03');
    expect(text).toContain('[REDACTED]');
    const script = await loadScript(path);
    expect(script.rules.map((r) => [r.name, r.when?.turn, r.fault ?? 'reply', r.times])).toEqual([
      ['r0001', 1, 'reply', 1],
      ['r0002', 2, 'reply', 1],
      ['r0003', 1, 429, 1],
      ['r0004', 1, 'reply', 1],
    ]);
    expect(script.rules[0]?.reply).toMatchObject({
      stop_reason: 'tool_use',
      usage: { output_tokens: 7 },
    });
    expect(script.rules[2]?.retry_after_ms).toBe(5);

    // Replay: same answers to the same requests, even when a temp folder and a time changed.
    const replay = await startScriptedServer({ script });
    try {
      const again = client(replay.url);
      const replayed = await again.messages
        .stream({
          ...ask('please write a.txt'),
          tools: [{ name: 'Write', input_schema: { type: 'object' } }],
        })
        .finalMessage();
      expect(replayed.content).toEqual([
        { type: 'text', text: 'Writing it with key [REDACTED].' },
        {
          type: 'tool_use',
          id: expect.any(String),
          name: 'Write',
          input: { path: 'a.txt', content: 'hi\n' },
        },
      ]);
      const moved = JSON.parse(
        JSON.stringify(followUp)
          .replace(`${tmpdir()}/so-trial-Ab12Cd`, `${tmpdir()}/so-trial-Zz98Yy`)
          .replace('04:04:35.794', '07:11:02.001'),
      );
      expect(firstText(await again.messages.create(moved))).toBe('second turn');
      expect(firstText(await again.messages.create(ask('busy now?')))).toBe('plain answer');
      expect(replay.requests.map((r) => r.rule)).toEqual(['r0001', 'r0002', 'r0003', 'r0004']);
      // a request the recording never saw is refused, not answered by a neighbour
      await expect(again.messages.create(ask('something new'))).rejects.toThrow(/no rule matched/);
    } finally {
      await replay.close();
    }
  }, 20_000);

  it('appends to an existing recording with fresh rule names, as JSON for a .json file', async () => {
    const upstream = await serve(UPSTREAM);
    const path = join(base, 'twice.json');
    for (const question of ['first', 'second']) {
      const proxy = await proxyTo(upstream.url);
      await client(proxy.url).messages.create(ask(question));
      await (await openRecordingFile(path)).append(proxy.exchanges);
    }
    const script = await loadScript(path);
    expect(readFileSync(path, 'utf8')).toMatch(/^\{\n {2}"rules": \[/);
    expect(script.rules.map((r) => r.name)).toEqual(['r0001', 'r0002']);
  });

  it('records a truncated answer as a malformed fault and leaves out what a script cannot say', async () => {
    const upstream = await serve(`
rules:
  - { when: { contains: broken }, fault: malformed }
  - { reply: { content: [{ type: text, text: ok }] } }
`);
    const proxy = await proxyTo(upstream.url);
    const api = new Anthropic({ baseURL: proxy.url, apiKey: 'dummy', maxRetries: 0 });
    await expect(api.messages.create(ask('broken'))).rejects.toThrow();
    const bad = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', body: '{"model":"m"}' });
    expect(bad.status).toBe(400);
    const file = await openRecordingFile(join(base, 'faults.yml'));
    expect(await file.append(proxy.exchanges)).toEqual({ written: 1, skipped: 1 });
    const script = await loadScript(join(base, 'faults.yml'));
    expect(script.rules.map((r) => r.fault)).toEqual(['malformed']);
  });

  it('gives each trial its own recorded answers whatever order the trials arrive in', async () => {
    const upstream = await serve(`
rules:
  - { when: { nth: [1] }, reply: { content: [{ type: text, text: first trial path }] } }
  - { reply: { content: [{ type: text, text: second trial path }] } }
`);
    const proxy = await proxyTo(upstream.url);
    const asTrial = (url: string, trial: string) =>
      new Anthropic({
        baseURL: url,
        apiKey: 'dummy',
        maxRetries: 0,
        defaultHeaders: { 'x-skill-optimizer-trial': trial },
      });
    await asTrial(proxy.url, 'p#t1').messages.create(ask('same question'));
    await asTrial(proxy.url, 'p#t2').messages.create(ask('same question'));
    const path = join(base, 'trials.yml');
    await (await openRecordingFile(path)).append(proxy.exchanges);
    const replay = await startScriptedServer({ script: await loadScript(path) });
    try {
      const t2 = await asTrial(replay.url, 'p#t2').messages.create(ask('same question'));
      const t1 = await asTrial(replay.url, 'p#t1').messages.create(ask('same question'));
      expect([firstText(t1), firstText(t2)]).toEqual(['first trial path', 'second trial path']);
    } finally {
      await replay.close();
    }
  });

  it('keeps a template the model wrote ({{name}}) as text in a loadable recording', async () => {
    // The upstream echoes `{{user}}` from the request, so its reply holds the literal braces.
    const upstream = await serve(`
rules:
  - when: { matches: '(?<t>\\{\\{user\\}\\})' }
    reply: { content: [{ type: text, text: "Hello {{t}}" }] }
`);
    const proxy = await proxyTo(upstream.url);
    await client(proxy.url).messages.create(ask('template {{user}} please'));
    const path = join(base, 'template.yml');
    await (await openRecordingFile(path)).append(proxy.exchanges);
    const replay = await startScriptedServer({ script: await loadScript(path) });
    try {
      const message = await client(replay.url).messages.create(ask('template {{user}} please'));
      expect(firstText(message)).toBe('Hello {{user}}');
    } finally {
      await replay.close();
    }
  });

  it('refuses a file that is not a script, naming it', async () => {
    const path = join(base, 'not-a-script.yml');
    writeFileSync(path, 'hello: world\n');
    await expect(openRecordingFile(path)).rejects.toThrow(/not-a-script\.yml/);
    await expect(openRecordingFile(join(base, 'missing', 'x.yml'))).rejects.toThrow(
      /cannot write the recording/,
    );
  });
});

describe('maskVolatile', () => {
  const parts = { tempRoots: ['/tmp'], today: ['2026-12-05'] };
  it('masks commit hashes, times, today and temp folders, and nothing else', () => {
    expect(
      maskVolatile(
        'commit 4d7f40e0bf9b at 2026-12-05T04:04:35.794Z in /tmp/so-abc123/x on 2026-12-05; released 2026-10-01 (#42)',
        parts,
      ),
    ).toBe('commit <hex> at <time> in <tmp>/x on <today>; released 2026-10-01 (#42)');
  });
});
