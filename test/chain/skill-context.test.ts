import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import {
  orderByReference,
  readSkill,
  type SkillSnapshot,
  skillSections,
} from '../../src/chain/inputs.js';
import { createChainModel } from '../../src/chain/model.js';
import {
  MAX_READ_CHARS,
  pagedSkillSections,
  READ_SKILL_FILE,
  skillFileReader,
} from '../../src/chain/skill-context.js';
import { defaultConfig } from '../../src/config/schema.js';
import { createModelClient } from '../../src/model/client.js';
import { estimateTokens } from '../../src/model/context-window.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { ContextBudgetError } from '../../src/model/tool-loop.js';
import { openLocalRun } from '../../src/store/local.js';
import { makeRepo, useGitSandbox } from '../store/git-fixture.js';

const sandbox = useGitSandbox();

const skill: SkillSnapshot = {
  copy: 'vendored-skill',
  files: [
    { path: 'SKILL.md', content: `# S\n\nSee b.md then a.md.\n${'s'.repeat(3_000)}\n` },
    { path: 'b.md', content: `${'b'.repeat(6_000)}\n` },
    { path: 'a.md', content: `${'a'.repeat(600)}\n` },
  ],
};

describe('orderByReference', () => {
  it('puts SKILL.md first, then files in the order SKILL.md names them, then the rest by path', () => {
    const files = [
      { path: 'z.md', content: '' },
      { path: 'scripts/run.sh', content: '' },
      { path: 'c.md', content: '' },
      { path: 'SKILL.md', content: 'Run scripts/run.sh, then read z.md.' },
      { path: 'a.md', content: '' },
    ];
    expect(orderByReference(files).map((f) => f.path)).toEqual([
      'SKILL.md',
      'scripts/run.sh',
      'z.md',
      'a.md',
      'c.md',
    ]);
  });
});

describe('readSkill', () => {
  it('reads every text file whole, ordered by SKILL.md, and leaves binary files out', async () => {
    const main = `# Big\n\nUse scripts/z.sh.\n${'m'.repeat(100_000)}\nThe end of SKILL.md.\n`;
    const store = await openLocalRun({ repoDir: await makeRepo(sandbox.base), slug: 'big' });
    try {
      await store.commit('seed', [
        { path: 'vendored-skill/a.md', content: 'a\n' },
        { path: 'vendored-skill/SKILL.md', content: main },
        { path: 'vendored-skill/scripts/z.sh', content: 'echo z\n' },
        { path: 'vendored-skill/logo.png', content: Buffer.from([0x89, 0x50, 0, 1]) },
      ]);
      const read = await readSkill(store, 'vendored-skill');
      expect(read.files.map((f) => f.path)).toEqual(['SKILL.md', 'scripts/z.sh', 'a.md']);
      expect(read.files[0]?.content).toBe(main);
    } finally {
      await store.close();
    }
  });
});

describe('pagedSkillSections', () => {
  it('shows whole files in order while they fit, skips one that does not, and indexes every file', () => {
    const text = pagedSkillSections({ label: 'skill', skill }, 2_000);
    expect(estimateTokens(text)).toBeLessThanOrEqual(2_000);
    expect(text).toContain(skill.files[0]?.content);
    expect(text).toContain(skill.files[2]?.content);
    expect(text).not.toContain('bbbbbbbbbb');
    expect(text).toContain('skill/SKILL.md\t3026 characters\tshown above');
    expect(text).toContain(`skill/b.md\t6001 characters\tread with ${READ_SKILL_FILE}`);
    expect(text).toContain('skill/a.md\t601 characters\tshown above');
  });

  it('never cuts a file: with no room it is only listed', () => {
    const text = pagedSkillSections({ label: 'before', skill }, 100);
    expect(text).not.toContain('sss');
    expect(text).toContain(`before/SKILL.md\t3026 characters\tread with ${READ_SKILL_FILE}`);
  });
});

describe('read_skill_file', () => {
  const reader = skillFileReader([{ label: 'skill', skill }]);

  it('returns a file, or a page of it from an offset, as a labelled data section', async () => {
    const whole = await reader.answer({ path: 'skill/a.md' });
    expect(whole).toEqual({
      isError: false,
      content: `<untrusted_data label="skill/a.md (characters 0-601 of 601)">\n${'a'.repeat(600)}\n</untrusted_data>`,
    });
    const page = await reader.answer({ path: 'skill/b.md', offset: 1_000, length: 2_000 });
    expect(page.content).toContain('(characters 1000-3000 of 6001)');
    expect(page.content).toMatch(/\n\(continues: read again with offset 3000\)$/);
  });

  it('answers bad calls with an error the model can act on', async () => {
    expect(await reader.answer({ path: 'b.md' })).toEqual({
      isError: true,
      content: 'No file b.md in the index; use a path as listed.',
    });
    expect((await reader.answer({ path: 'skill/a.md', offset: 700 })).content).toBe(
      'skill/a.md has 601 characters; offset 700 is past its end.',
    );
    const tooLong = await reader.answer({ path: 'skill/a.md', length: MAX_READ_CHARS + 1 });
    expect(tooLong.isError).toBe(true);
    expect(tooLong.content).toMatch(/^Invalid input: .*length/s);
  });
});

describe('createChainModel and the context budget', () => {
  const servers: ScriptedServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function model(contextShare: number) {
    const rules = [
      { reply: { content: [{ type: 'tool_use', name: 'report', input: { ok: true } }] } },
    ];
    const server = await startScriptedServer({
      script: parseScript(stringify({ rules }), 'budget.yaml'),
    });
    servers.push(server);
    const client = createModelClient({ apiKey: 'k', baseURL: server.url, maxAttempts: 1 });
    const models = { ...defaultConfig().models, optimizer: 'claude-opus-4-6' };
    const bodies = () => server.requests.map((r) => r.body as { tools: Array<{ name: string }> });
    return { chain: createChainModel(client, models, { contextShare }), bodies };
  }
  const output = {
    schema: z.strictObject({ ok: z.boolean() }),
    toolName: 'report',
    toolDescription: 'Report.',
  };
  const prompt = {
    shared: skillSections(skill),
    task: 'Do it.',
    skills: [{ label: 'skill', skill }],
  };

  it('inlines the skill and offers no reading tool when the prompt fits', async () => {
    const { chain, bodies } = await model(0.5);
    await chain.call('optimizer', prompt, output);
    expect(bodies().map((b) => b.tools.map((t) => t.name))).toEqual([['report']]);
    expect(JSON.stringify(bodies()[0])).toContain('bbbbbbbbbb');
  });

  it('pages the skill when the prompt is over the configured share', async () => {
    // 0.2 of 200k = 40,000 tokens; the skill alone estimates ~41,000.
    const large: SkillSnapshot = {
      copy: 'vendored-skill',
      files: [...skill.files, { path: 'big.md', content: 'g'.repeat(120_000) }],
    };
    const paged = {
      shared: skillSections(large),
      task: 'Do it.',
      skills: [{ label: 'skill', skill: large }],
    };
    const { chain, bodies } = await model(0.2);
    await chain.call('optimizer', paged, output);
    const [body] = bodies();
    expect(body?.tools.map((t) => t.name)).toEqual([READ_SKILL_FILE, 'report']);
    const sent = JSON.stringify(body);
    expect(sent).toContain(`skill/big.md\\t120000 characters\\tread with ${READ_SKILL_FILE}`);
    expect(sent).not.toContain('g'.repeat(1_000));
    expect(sent).toContain('The skill is too large to show whole.');
  });

  it('names the budget when a prompt without a skill is over it', async () => {
    const { chain, bodies } = await model(0.001);
    await expect(
      chain.call('optimizer', { shared: 'x'.repeat(2_000), task: '' }, output),
    ).rejects.toThrow(ContextBudgetError);
    expect(bodies()).toHaveLength(0);
  });

  it('refuses a prompt whose attached skill is not in its text (a wiring mistake)', async () => {
    const { chain } = await model(0.01);
    await expect(
      chain.call(
        'optimizer',
        { shared: 'x'.repeat(9_000), task: '', skills: prompt.skills },
        output,
      ),
    ).rejects.toThrow(/does not hold the skill sections/);
  });
});
