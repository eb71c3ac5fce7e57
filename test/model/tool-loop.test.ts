import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { createModelClient } from '../../src/model/client.js';
import { estimateRequestTokens } from '../../src/model/context-window.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { InvalidModelOutputError, toolInputSchema } from '../../src/model/structured.js';
import {
  ContextBudgetError,
  callStructuredWithTools,
  type LocalTool,
} from '../../src/model/tool-loop.js';

const Answer = z.strictObject({ summary: z.string().min(1) });

interface SentBody {
  tool_choice: unknown;
  tools: Array<{ name: string }>;
  system: Array<{ type: string; text: string }>;
  messages: Array<{ role: string; content: string | Array<Record<string, unknown>> }>;
}

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(rules: unknown[]) {
  const server = await startScriptedServer({
    script: parseScript(stringify({ rules }), 'loop.yaml'),
  });
  servers.push(server);
  const client = createModelClient({ apiKey: 'test-key', baseURL: server.url, maxAttempts: 1 });
  const sent = () => server.requests.map((r) => r.body as SentBody);
  return { client, sent };
}

/** A local tool returning `size` characters of a letter per page; records what it was asked. */
function pages(size: number) {
  const asked: unknown[] = [];
  const tool: LocalTool = {
    tool: {
      name: 'read_page',
      description: 'Read a page.',
      input_schema: toolInputSchema(z.strictObject({ page: z.int() })),
    },
    async answer(input) {
      asked.push(input);
      const page = (input as { page?: unknown }).page;
      if (typeof page !== 'number') return { isError: true, content: 'page must be a number' };
      return { isError: false, content: String.fromCharCode(97 + page).repeat(size) };
    },
  };
  return { tool, asked };
}

const read = (page: number) => ({ type: 'tool_use', name: 'read_page', input: { page } });
const answer = (summary: string) => ({
  type: 'tool_use',
  name: 'report',
  input: { summary },
});

function call(client: ReturnType<typeof createModelClient>, model = 'claude-opus-4-6') {
  return {
    client,
    model,
    system: 'You summarise pages.',
    messages: [{ role: 'user' as const, content: 'Summarise the pages.' }],
    schema: Answer,
    toolName: 'report',
    toolDescription: 'Report the summary.',
    tag: 'summariser',
    maxTokens: 1024,
  };
}

const toolResults = (body: SentBody | undefined) =>
  (body?.messages ?? []).flatMap((m) =>
    typeof m.content === 'string' ? [] : m.content.filter((b) => b.type === 'tool_result'),
  );

describe('callStructuredWithTools', () => {
  it('answers local tool calls turn by turn, then returns the validated output', async () => {
    const { client, sent } = await serve([
      { when: { turn: 1 }, reply: { content: [read(0), read(1)] } },
      { when: { turn: 2 }, reply: { content: [{ type: 'text', text: 'Done.' }, answer('ab')] } },
    ]);
    const { tool, asked } = pages(10);
    const out = await callStructuredWithTools(call(client), {
      tools: [tool],
      budgetTokens: 10_000,
      instructions: 'Read pages with read_page.',
    });
    expect(out).toEqual({ summary: 'ab' });
    expect(asked).toEqual([{ page: 0 }, { page: 1 }]);
    const [first, second] = sent();
    expect(first?.tools.map((t) => t.name)).toEqual(['read_page', 'report']);
    expect(first?.tool_choice).toEqual({ type: 'any' });
    expect(first?.system.at(-1)?.text).toBe('Read pages with read_page.');
    expect(toolResults(second).map((r) => r.content)).toEqual(['a'.repeat(10), 'b'.repeat(10)]);
    // The conversation so far is cache-marked at its end, so each reading turn re-reads it cheaply.
    expect(toolResults(second).at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
  });

  it('elides the oldest results so that every request stays within the budget', async () => {
    const { client, sent } = await serve([
      { when: { turn: 1 }, reply: { content: [read(0)] } },
      { when: { turn: 2 }, reply: { content: [read(1)] } },
      { when: { turn: 3 }, reply: { content: [read(2)] } },
      { when: { turn: 4 }, reply: { content: [answer('abc')] } },
    ]);
    const { tool } = pages(3_000);
    const budget = 3_000; // ~9 KB: room for two pages of 3,000 characters, not three
    await callStructuredWithTools(call(client), {
      tools: [tool],
      budgetTokens: budget,
      instructions: 'Read pages.',
    });
    const bodies = sent();
    expect(bodies).toHaveLength(4);
    for (const body of bodies) {
      expect(
        estimateRequestTokens(body as unknown as Parameters<typeof estimateRequestTokens>[0]),
      ).toBeLessThanOrEqual(budget);
    }
    const last = toolResults(bodies[3]).map((r) => r.content as string);
    expect(last[0]).toMatch(
      /^This result was removed to keep the conversation within its context budget/,
    );
    expect(last[2]).toBe('c'.repeat(3_000));
  });

  it('refuses reads after maxToolTurns and forces the output tool', async () => {
    const { client, sent } = await serve([
      { when: { turn: 1 }, reply: { content: [read(0)] } },
      { when: { turn: 2 }, reply: { content: [read(1)] } },
      { when: { turn: 3 }, reply: { content: [answer('a')] } },
    ]);
    const { tool, asked } = pages(10);
    await callStructuredWithTools(call(client), {
      tools: [tool],
      budgetTokens: 10_000,
      maxToolTurns: 1,
      instructions: 'Read pages.',
    });
    expect(asked).toEqual([{ page: 0 }]);
    const bodies = sent();
    expect(bodies[1]?.tool_choice).toEqual({ type: 'tool', name: 'report' });
    const refused = toolResults(bodies[2]).at(-1);
    expect(refused).toMatchObject({ is_error: true });
    expect(refused?.content).toMatch(/Call `report` now/);
  });

  it('leaves the choice to a model that refuses forced tool choice', async () => {
    const { client, sent } = await serve([{ reply: { content: [answer('a')] } }]);
    await callStructuredWithTools(call(client, 'claude-opus-5-5'), {
      tools: [pages(10).tool],
      budgetTokens: 10_000,
      instructions: 'Read pages.',
    });
    expect(sent()[0]?.tool_choice).toEqual({ type: 'auto' });
    expect(
      sent()[0]
        ?.system.map((b) => b.text)
        .join('\n'),
    ).toContain('report');
  });

  it('answers an unknown tool and bad input with error results, not a crash', async () => {
    const { client, sent } = await serve([
      {
        when: { turn: 1 },
        reply: {
          content: [
            { type: 'tool_use', name: 'rm_rf', input: {} },
            { type: 'tool_use', name: 'read_page', input: { page: 'x' } },
          ],
        },
      },
      { when: { turn: 2 }, reply: { content: [answer('a')] } },
    ]);
    await callStructuredWithTools(call(client), {
      tools: [pages(10).tool],
      budgetTokens: 10_000,
      instructions: 'Read pages.',
    });
    expect(toolResults(sent()[1])).toMatchObject([
      { is_error: true, content: 'There is no tool named rm_rf.' },
      { is_error: true, content: 'page must be a number' },
    ]);
  });

  it('repairs an invalid output once, then gives up with the schema issues', async () => {
    const { client } = await serve([{ reply: { content: [answer('')] } }]);
    await expect(
      callStructuredWithTools(call(client), {
        tools: [pages(10).tool],
        budgetTokens: 10_000,
        instructions: 'Read pages.',
      }),
    ).rejects.toThrow(InvalidModelOutputError);
  });

  it('refuses a prompt over the budget before calling the model', async () => {
    const { client, sent } = await serve([{ reply: { content: [answer('a')] } }]);
    const big = {
      ...call(client),
      messages: [{ role: 'user' as const, content: 'x'.repeat(30_000) }],
    };
    const run = callStructuredWithTools(big, {
      tools: [pages(10).tool],
      budgetTokens: 5_000,
      instructions: 'Read pages.',
    });
    await expect(run).rejects.toThrow(ContextBudgetError);
    await expect(run).rejects.toThrow(/over its budget of 5000 .*Raise context_share/);
    expect(sent()).toHaveLength(0);
  });
});
