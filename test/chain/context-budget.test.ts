import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { SkillSnapshot } from '../../src/chain/inputs.js';
import { createChainModel } from '../../src/chain/model.js';
import { MAX_READ_CHARS, READ_SKILL_FILE } from '../../src/chain/skill-context.js';
import { askAnalysis } from '../../src/chain/steps/analyze.js';
import { askFunctionality } from '../../src/chain/steps/functionality.js';
import { askImprovement } from '../../src/chain/steps/improve.js';
import { askValidation } from '../../src/chain/steps/validate.js';
import { askValidator } from '../../src/chain/steps/validate-tests.js';
import { askWriter } from '../../src/chain/steps/write-tests.js';
import { defaultConfig } from '../../src/config/schema.js';
import { createModelClient } from '../../src/model/client.js';
import { estimateRequestTokens } from '../../src/model/context-window.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';

const EXAMPLE_SKILL = resolve(import.meta.dirname, '../../examples/keep-a-changelog/skill');

/**
 * A synthetic 1 MB, 100-file skill through every role that sees a skill: each request the model
 * server receives stays within the role's budget (half of a 200k window), and the optimizer can
 * read every file whole, SKILL.md's tail included, with the tool the over-budget prompt offers.
 */

const MODEL = 'claude-opus-4-6';
const BUDGET = 100_000;
const DEMO = join(
  import.meta.dirname,
  '..',
  '..',
  'examples',
  'keep-a-changelog',
  'chain-script.yml',
);

/** Plain ASCII lines (nothing the sanitiser rewrites), unique per file and line. */
function body(name: string, chars: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < chars; i++) {
    const line = `${name} line ${i}: keep the changelog entries grouped by change type.`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

function syntheticSkill(): SkillSnapshot {
  const refs = Array.from(
    { length: 99 },
    (_, i) => `references/part-${String(i).padStart(2, '0')}.md`,
  );
  const main = `# Big skill\n\nRead ${[...refs].reverse().join(', ')}.\n\n${body('SKILL.md', 80_000)}`;
  return {
    copy: 'vendored-skill',
    files: [
      { path: 'SKILL.md', content: main },
      ...[...refs].reverse().map((path) => ({ path, content: body(path, 9_300) })),
    ],
  };
}

interface SentBody {
  system: Array<{ type: 'text'; text: string }>;
  tools: Array<{ name: string; description: string; input_schema: { type: 'object' } }>;
  messages: MessageParam[];
}

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The optimizer reads SKILL.md in pages from 60,000 on, then ten files a turn; demo replies otherwise. */
function script(skill: SkillSnapshot) {
  const demo = parse(readFileSync(DEMO, 'utf8')) as { rules: Array<{ name?: string }> };
  const keep = ['functionality', 'improve', 'analyze', 'validate'];
  const demoRules = demo.rules.filter(
    (r) => keep.includes(r.name ?? '') || /^(write|review) /.test(r.name ?? ''),
  );
  const read = (path: string, offset?: number) => ({
    type: 'tool_use',
    name: READ_SKILL_FILE,
    input: offset === undefined ? { path: `skill/${path}` } : { path: `skill/${path}`, offset },
  });
  const main = skill.files[0]?.content.length ?? 0;
  const pages = [];
  for (let at = 60_000; at < main; at += MAX_READ_CHARS) pages.push(read('SKILL.md', at));
  const turns = [pages];
  const others = skill.files.slice(1).map((f) => read(f.path));
  for (let i = 0; i < others.length; i += 10) turns.push(others.slice(i, i + 10));
  const reading = turns.map((content, i) => ({
    name: `optimizer-reads-${i + 1}`,
    when: { turn: i + 1, tool_offered: [READ_SKILL_FILE, 'propose_improvement'] },
    reply: { content },
  }));
  return { readingTurns: turns.length, yaml: stringify({ rules: [...reading, ...demoRules] }) };
}

describe('a 1 MB, 100-file skill', () => {
  it('keeps every role request within its context budget, and the optimizer reads every file', async () => {
    const skill = syntheticSkill();
    const total = skill.files.reduce((n, f) => n + f.content.length, 0);
    expect(skill.files).toHaveLength(100);
    expect(total).toBeGreaterThan(1_000_000);

    const { yaml, readingTurns } = script(skill);
    const server = await startScriptedServer({ script: parseScript(yaml, 'budget.yaml') });
    servers.push(server);
    const client = createModelClient({ apiKey: 'test-key', baseURL: server.url, maxAttempts: 1 });
    const config = defaultConfig();
    const model = createChainModel(
      client,
      { ...config.models, evaluator: MODEL, optimizer: MODEL },
      { contextShare: config.context_share },
    );

    const common = { functionality: '# Functionality', intent: 'Make it better.', directives: [] };
    await askFunctionality(model, {
      skill,
      skillSource: 'skills/big @ 0123456789ab',
      intent: '',
      directives: [],
    });
    await askWriter(model, {
      ...common,
      skill,
      spec: { functionality: 'add-entry', responsibility: 'Add an entry' },
      probe: { id: 'fixed-with-pr', intent: 'A fix lands under Fixed.' },
      generalDirectives: [],
      probeDirectives: [],
    });
    await askValidator(model, {
      ...common,
      skill,
      probe: {
        id: 'fixed-with-pr',
        files: [{ path: 'probe.yaml', content: 'id: fixed-with-pr\n' }],
      },
    });
    await askAnalysis(model, {
      summary: 'All probes failed.',
      trials: [],
      omittedTrials: 0,
      specs: [],
      skill,
      intent: '',
      directives: [],
    });
    // The demo's scripted edits target the example skill's SKILL.md: check them against it.
    const example = readFileSync(join(EXAMPLE_SKILL, 'SKILL.md'), 'utf8');
    await askImprovement(
      model,
      { ...common, analysis: '# Analysis', weaknesses: [], submissions: null, skill },
      [{ path: 'SKILL.md', content: example }],
      {},
    );
    await askValidation(model, {
      ...common,
      before: skill,
      after: skill,
      diff: '--- a/SKILL.md\n+++ b/SKILL.md\n',
      ductTape: [],
      submissions: null,
    });

    const bodies = server.requests
      .filter((r) => r.path === '/v1/messages')
      .map((r) => r.body as SentBody);
    const roles = new Set(bodies.map((b) => b.tools.at(-1)?.name));
    expect([...roles].sort()).toEqual([
      'propose_improvement',
      'report_analysis',
      'report_functionality',
      'report_verdict',
      'review_probe',
      'write_probe',
    ]);
    for (const b of bodies) {
      expect(estimateRequestTokens(b)).toBeLessThanOrEqual(BUDGET);
      expect(b.tools.map((t) => t.name)).toContain(READ_SKILL_FILE);
    }

    const optimizer = bodies.filter((b) => b.tools.some((t) => t.name === 'propose_improvement'));
    expect(optimizer).toHaveLength(readingTurns + 1);
    const firstPrompt = JSON.stringify(optimizer[0]?.messages[0]);
    // SKILL.md, the file the optimizer edits, is shown whole (the old cut kept 60,000 characters).
    expect(firstPrompt).toContain(JSON.stringify(skill.files[0]?.content).slice(1, -1));
    const seen = optimizer.flatMap((b) =>
      b.messages.flatMap((m) =>
        typeof m.content === 'string'
          ? []
          : m.content.flatMap((block) =>
              block.type === 'tool_result' && typeof block.content === 'string'
                ? [block.content]
                : [],
            ),
      ),
    );
    for (const file of skill.files.slice(1)) {
      expect(
        seen.some((text) => text.includes(file.content)),
        file.path,
      ).toBe(true);
    }
    const main = skill.files[0]?.content ?? '';
    for (let at = 60_000; at < main.length; at += MAX_READ_CHARS) {
      const page = main.slice(at, at + MAX_READ_CHARS);
      expect(
        seen.some((text) => text.includes(page)),
        `SKILL.md from ${at}`,
      ).toBe(true);
    }
    // Reading 1 MB within a 100k-token budget is only possible because old reads were elided.
    expect(seen.some((text) => text.includes('removed to keep the conversation'))).toBe(true);
  });
});
