import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadSuite } from '../../src/bench/suite.js';
import { createChainModel } from '../../src/chain/model.js';
import { StepRefusedError } from '../../src/chain/ports.js';
import { InvalidProbeFileError } from '../../src/chain/probe-files.js';
import {
  buildPlan,
  gatherWriteProbeInputs,
  renderBuildPlan,
  renderWriteProbePrompt,
  runWriteTests,
  type WriterOutput,
} from '../../src/chain/steps/write-tests.js';
import { scopeViolation, WriteScopeError } from '../../src/chain/write-scope.js';
import { configSchema } from '../../src/config/schema.js';
import { createModelClient } from '../../src/model/client.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, seedRunDir } from './firewall-fixture.js';
import { fakeModel, makeRun, seedStore, specYaml } from './test-steps-fixture.js';

const sandbox = useGitSandbox();
const stores: LocalRunStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

describe('step 4 write-tests: context firewall', () => {
  let store: LocalRunStore;
  beforeAll(async () => {
    ({ store } = await seedRunDir(sandbox.base));
    stores.push(store);
  });

  it('shows a writer only its own spec entry, 01, the vendored skill and its directives', async () => {
    const plan = await buildPlan(store, [
      'add-entry/fixed-with-pr: the grader must accept any bullet wording',
      'keep workspaces small',
    ]);
    expect(plan.write.map((p) => p.id)).toEqual(['add-entry/fixed-with-pr']);
    const [input] = await gatherWriteProbeInputs(store, plan);
    if (input === undefined) throw new Error('no writer input');
    const prompt = await renderWriteProbePrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    expectOnly(
      text,
      [
        '01-functionality.md',
        'intent.md',
        'vendored-skill/SKILL.md',
        'vendored-skill/reference/types.md',
        'tests/add-entry/spec.yaml',
      ],
      [...HELDOUT_MARKERS, 'VISIBLE_TRIAL_1', 'cut-release'],
    );
    expect(text).toContain('the grader must accept any bullet wording');
    expect(text).toContain('keep workspaces small');
    // The per-probe part is after the shared, cacheable part.
    expect(prompt.task).toContain('fixed-with-pr');
    expect(prompt.shared).not.toContain('fixed-with-pr');
    expect(prompt.shared).toContain('examples/keep-a-changelog/tests');
  });
});

const GRADER = `import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
export default async function grade({ workspaceDir }) {
  const text = await readFile(join(workspaceDir, 'CHANGELOG.md'), 'utf8').catch(() => '');
  const pass = text.includes('#42');
  return { pass, score: pass ? 1 : 0, reasons: [pass ? 'entry found' : 'no #42 entry'] };
}
`;

/** A writer whose answer names the probe it was asked for (read from the per-probe part). */
function writerFor(over: (probe: string) => Partial<WriterOutput> = () => ({})) {
  return (prompt: { task: string }): WriterOutput => {
    const probe = /Probe `([a-z0-9-]+)`/.exec(prompt.task)?.[1] ?? 'unknown';
    return {
      prompt: `Record PR #42 in the changelog (${probe}).`,
      tags: ['changelog'],
      workspace_files: [{ path: 'CHANGELOG.md', content: `# Changelog for ${probe}\n` }],
      grader_mjs: GRADER,
      smoke_good: [{ path: 'CHANGELOG.md', content: '- Fix (#42)\n' }],
      smoke_bad: [{ path: 'CHANGELOG.md', content: '- Fix\n' }],
      ...over(probe),
    };
  };
}

const specs = {
  'tests/add-entry/spec.yaml': specYaml({
    functionality: 'add-entry',
    picked: true,
    priority: 1,
    probes: [
      { id: 'one' },
      { id: 'two', heldout: true },
      { id: 'three' },
      { id: 'four' },
      { id: 'five' },
    ],
  }),
  'tests/release/spec.yaml': specYaml({
    functionality: 'release',
    picked: false,
    priority: 2,
    probes: [{ id: 'cut' }],
  }),
};

describe('buildPlan', () => {
  let store: LocalRunStore;
  beforeAll(async () => {
    store = await seedStore(sandbox.base, {
      ...specs,
      'tests/add-entry/one/probe.yaml': 'prompt: existing\n',
    });
    stores.push(store);
  });

  it('writes picked probes without a folder, keeps the rest, ignores unpicked specs', async () => {
    const plan = await buildPlan(store, ['be concise']);
    expect(plan.picked).toEqual(['add-entry']);
    expect(plan.kept).toEqual(['add-entry/one']);
    expect(plan.write.map((p) => [p.id, p.reason, p.heldout])).toEqual([
      ['add-entry/two', 'new', true],
      ['add-entry/three', 'new', false],
      ['add-entry/four', 'new', false],
      ['add-entry/five', 'new', false],
    ]);
    expect(plan.general).toEqual(['be concise']);
    const shown = renderBuildPlan(plan);
    expect(shown).toContain('| `add-entry/two` | new | yes | — |');
    expect(shown).toContain('Kept as they are: `add-entry/one`.');
    expect(shown).toContain('- be concise');
  });

  it('rewrites an existing probe a directive names, with the directive as its own', async () => {
    const plan = await buildPlan(store, ['add-entry/one: the grader rejects valid dates']);
    expect(plan.kept).toEqual([]);
    expect(plan.write[0]).toMatchObject({
      id: 'add-entry/one',
      reason: 'directive',
      directives: ['the grader rejects valid dates'],
    });
    expect(plan.general).toEqual([]);
    expect(renderBuildPlan(plan)).toContain('rewrite (folder replaced)');
  });

  it('refuses a directive aimed at a probe that is not picked', async () => {
    await expect(buildPlan(store, ['release/cut: harder'])).rejects.toThrow(StepRefusedError);
    await expect(buildPlan(store, ['release/cut: harder'])).rejects.toThrow(
      /aimed at probe 'release\/cut', which is not a probe of a picked functionality/,
    );
  });

  it('refuses when nothing is picked', async () => {
    const none = await seedStore(sandbox.base, {
      'tests/release/spec.yaml': specs['tests/release/spec.yaml'],
    });
    stores.push(none);
    await expect(buildPlan(none, [])).rejects.toThrow(/no functionality is picked/);
  });
});

describe('runWriteTests', () => {
  it('dispatches one writer per probe, bounded by concurrency, and writes folders and the suite', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    const { model, calls, stats } = fakeModel({ 'test-writer': writerFor() }, { holdFor: 5 });
    const outcome = await runWriteTests(
      await makeRun(store, {
        model,
        config: { concurrency: 2, trials: 2, models: { bench: ['m-a', 'm-b'] } },
      }),
    );
    expect(calls).toHaveLength(5);
    expect(stats.maxInFlight).toBe(2);
    // Each writer saw its own probe only.
    for (const call of calls) {
      const own = /Probe `([a-z0-9-]+)`/.exec(call.prompt.task)?.[1];
      const others = ['one', 'two', 'three', 'four', 'five'].filter((p) => p !== own);
      for (const other of others) expect(call.text).not.toContain(`add-entry/${other}`);
    }
    await store.commit('step 4', outcome.changes);

    const files = await store.list('tests/add-entry/two');
    expect(files).toEqual([
      'tests/add-entry/two/grader.mjs',
      'tests/add-entry/two/probe.yaml',
      'tests/add-entry/two/smoke/bad/CHANGELOG.md',
      'tests/add-entry/two/smoke/empty/.gitkeep',
      'tests/add-entry/two/smoke/good/CHANGELOG.md',
      'tests/add-entry/two/workspace/CHANGELOG.md',
    ]);
    expect(parse((await store.read('tests/add-entry/two/probe.yaml')) ?? '')).toEqual({
      prompt: 'Record PR #42 in the changelog (two).',
      description: 'Intent of add-entry/two.',
      tags: ['add-entry', 'changelog'],
      heldout: true,
    });
    expect(await store.read('tests/add-entry/two/grader.mjs')).toBe(GRADER);

    // The bench's own loader accepts the generated suite.
    const suite = await loadSuite(store.absolutePath('tests/suite.yml'));
    expect(suite.probes.map((p) => [p.id, p.heldout])).toEqual([
      ['add-entry/five', false],
      ['add-entry/four', false],
      ['add-entry/one', false],
      ['add-entry/three', false],
      ['add-entry/two', true],
    ]);
    expect(suite.models).toEqual(['m-a', 'm-b']);
    expect(suite.trials).toBe(2);
    expect(suite.skillDir).toBe(store.absolutePath('vendored-skill'));
    expect(outcome.result).toBe('5 probe(s) written (5 new, 0 rewritten), suite of 5');
  });

  it('replaces a rewritten probe folder entirely and keeps the others', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    const first = fakeModel({ 'test-writer': writerFor() });
    await store.commit(
      'step 4',
      (await runWriteTests(await makeRun(store, { model: first.model }))).changes,
    );
    const keptGrader = await store.read('tests/add-entry/three/grader.mjs');

    const second = fakeModel({
      'test-writer': writerFor(() => ({
        workspace_files: [{ path: 'docs/NEW.md', content: 'new\n' }],
        smoke_good: [{ path: 'CHANGELOG.md', content: '- Fix (#42)\n' }],
      })),
    });
    const outcome = await runWriteTests(
      await makeRun(store, {
        model: second.model,
        directives: ['add-entry/one: start from docs/NEW.md'],
      }),
    );
    expect(second.calls).toHaveLength(1);
    expect(second.calls[0]?.prompt.task).toContain('start from docs/NEW.md');
    await store.commit('step 4 again', outcome.changes);
    expect(await store.list('tests/add-entry/one/workspace')).toEqual([
      'tests/add-entry/one/workspace/docs/NEW.md',
    ]);
    expect(await store.read('tests/add-entry/three/grader.mjs')).toBe(keptGrader);
    expect(outcome.result).toBe('1 probe(s) written (0 new, 1 rewritten), suite of 5');
  });

  it('refuses a write outside the probe folder, naming probe and path, and writes nothing', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    const head = await store.head();
    const { model } = fakeModel({
      'test-writer': writerFor((probe) =>
        probe === 'three' ? { smoke_bad: [{ path: '../../../grader.mjs', content: 'x' }] } : {},
      ),
    });
    const error = await runWriteTests(
      await makeRun(store, { model, config: { concurrency: 1 } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteScopeError);
    expect((error as Error).message).toContain(
      "probe 'add-entry/three' returned 'smoke/bad/../../../grader.mjs'",
    );
    expect((error as Error).message).toContain('Nothing was written');
    expect(await store.head()).toBe(head);
    expect(await store.exists('tests/add-entry/one')).toBe(false);
    expect(await store.exists('tests/suite.yml')).toBe(false);
  });
});

describe('step 4 write-tests: a regenerated suite.yml', () => {
  const handEdited = [
    'skill: ../vendored-skill',
    'models: [m-a]',
    'probes: [add-entry/one]',
    'grader_dependencies:',
    '  fflate: 0.8.3',
    '',
  ].join('\n');

  it('keeps the grader dependencies a person added', async () => {
    const store = await seedStore(sandbox.base, { ...specs, 'tests/suite.yml': handEdited });
    stores.push(store);
    const { model } = fakeModel({ 'test-writer': writerFor() });
    await store.commit('step 4', (await runWriteTests(await makeRun(store, { model }))).changes);
    const suite = await loadSuite(store.absolutePath('tests/suite.yml'));
    expect(suite.graderDependencies).toEqual({ fflate: '0.8.3' });
    expect(suite.probes).toHaveLength(5);
  });

  it('refuses to regenerate over grader dependencies it cannot read, naming the field', async () => {
    const store = await seedStore(sandbox.base, {
      ...specs,
      'tests/suite.yml': handEdited.replace('0.8.3', 'latest'),
    });
    stores.push(store);
    const { model } = fakeModel({ 'test-writer': writerFor() });
    await expect(runWriteTests(await makeRun(store, { model }))).rejects.toThrow(
      /tests\/suite\.yml: grader_dependencies\.fflate: expected an exact version/,
    );
  });
});

describe('step 4 write-tests: binary fixtures', () => {
  const bytes = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0x0d, 0x0a, 0x80, 0x7f]);

  it('writes a base64 file byte for byte and a text file as text', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    const b64 = bytes.toString('base64');
    const { model } = fakeModel({
      'test-writer': writerFor(() => ({
        workspace_files: [
          // Line breaks inside base64 are how many encoders wrap it; they carry no bytes.
          {
            path: 'in/book.xlsx',
            content: `${b64.slice(0, 4)}\n${b64.slice(4)}`,
            encoding: 'base64',
          },
          { path: 'notes.txt', content: 'UEsDBA==', encoding: 'utf8' },
        ],
      })),
    });
    const outcome = await runWriteTests(await makeRun(store, { model }));
    await store.commit('step 4', outcome.changes);
    expect(await store.readBytes('tests/add-entry/one/workspace/in/book.xlsx')).toEqual(bytes);
    expect(await store.read('tests/add-entry/one/workspace/notes.txt')).toBe('UEsDBA==');
  });

  it('refuses base64 that is not base64, naming probe and file, and writes nothing', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    const head = await store.head();
    const { model } = fakeModel({
      'test-writer': writerFor(() => ({
        smoke_good: [{ path: 'book.xlsx', content: 'not base64!', encoding: 'base64' }],
      })),
    });
    const error = await runWriteTests(
      await makeRun(store, { model, config: { concurrency: 1 } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidProbeFileError);
    expect((error as Error).message).toBe(
      "the test writer of probe 'add-entry/one' returned 'smoke/good/book.xlsx' with encoding base64 but content that is not base64. Nothing was written.",
    );
    expect(await store.head()).toBe(head);
  });
});

describe('write scope', () => {
  it.each([
    ['', 'an empty path'],
    ['  ', 'an empty path'],
    ['../x', "a '..' segment leaving the folder"],
    ['a/../../x', "a '..' segment leaving the folder"],
    ['/etc/passwd', 'an absolute path'],
    ['C:/x', 'an absolute path'],
    ['a\\b', 'a backslash; use / between folders'],
    ['.git/config', 'a .git entry'],
    ['sub/.GIT/hooks/pre-commit', 'a .git entry'],
    ['a//b', 'an empty folder or file name'],
    ['a/', 'an empty folder or file name'],
    ['./a', "a '.' segment"],
    ['a\u0000b', 'a control character in the path'],
    [' a', 'a name starting or ending with a space'],
  ])('refuses %j', (path, why) => {
    expect(scopeViolation(path)).toBe(why);
  });

  it.each(['CHANGELOG.md', 'src/app.ts', '.gitignore', 'a..b/c', '.github/workflows/ci.yml'])(
    'accepts %j',
    (path) => {
      expect(scopeViolation(path)).toBeNull();
    },
  );

  it('refuses duplicates and a name used as file and folder', async () => {
    const store = await seedStore(sandbox.base, specs);
    stores.push(store);
    for (const [files, message] of [
      [
        [
          { path: 'A.md', content: '' },
          { path: 'a.md', content: '' },
        ],
        "'workspace/a.md' (listed twice)",
      ],
      [
        [
          { path: 'a', content: '' },
          { path: 'a/b', content: '' },
        ],
        "'workspace/a' (both a file and a folder)",
      ],
    ] as const) {
      const { model } = fakeModel({
        'test-writer': writerFor(() => ({ workspace_files: [...files] })),
      });
      await expect(runWriteTests(await makeRun(store, { model }))).rejects.toThrow(message);
    }
  });
});

describe('runWriteTests with a writer cut at max_tokens (scripted model)', () => {
  const open: ScriptedServer[] = [];
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
  });

  const partRule = (part: string, input: Record<string, unknown>) => ({
    name: part,
    when: { tool_offered: `write_probe_${part}` },
    reply: { content: [{ type: 'tool_use', name: `write_probe_${part}`, input }] },
  });

  it('asks the probe again in parts, in the same conversation, and writes it whole', async () => {
    const script = parseScript(
      JSON.stringify({
        rules: [
          {
            name: 'whole-probe-cut',
            when: { tool_offered: 'write_probe' },
            reply: {
              content: [{ type: 'tool_use', name: 'write_probe', input: { prompt: 'Rec' } }],
              stop_reason: 'max_tokens',
            },
          },
          partRule('part_1_of_4', {
            prompt: 'Record PR #42 in the changelog.',
            tags: ['changelog'],
            workspace_files: [{ path: 'CHANGELOG.md', content: '# Changelog\n' }],
          }),
          partRule('part_2_of_4', { grader_mjs: GRADER }),
          partRule('part_3_of_4', {
            smoke_good: [{ path: 'CHANGELOG.md', content: '- Fix (#42)\n' }],
          }),
          partRule('part_4_of_4', { smoke_bad: [{ path: 'CHANGELOG.md', content: '- Fix\n' }] }),
        ],
      }),
      'split.json',
    );
    const server = await startScriptedServer({ script });
    open.push(server);
    const store = await seedStore(sandbox.base, {
      'tests/add-entry/spec.yaml': specYaml({
        functionality: 'add-entry',
        picked: true,
        priority: 1,
        probes: [{ id: 'one' }],
      }),
    });
    stores.push(store);
    const config = configSchema.parse({});
    const client = createModelClient({ apiKey: 'sk-test', baseURL: server.url, maxAttempts: 1 });
    const model = createChainModel(client, config.models, { contextShare: config.context_share });

    const outcome = await runWriteTests(await makeRun(store, { model }));

    expect(server.requests.map((r) => r.rule)).toEqual([
      'whole-probe-cut',
      'part_1_of_4',
      'part_2_of_4',
      'part_3_of_4',
      'part_4_of_4',
    ]);
    // One conversation: each part's request carries every earlier turn.
    const turns = server.requests.map((r) => (r.body as { messages: unknown[] }).messages.length);
    expect(turns).toEqual([1, 3, 5, 7, 9]);
    const last = JSON.stringify(server.requests[4]?.body);
    expect(last).toContain('cut off at the output limit of 16000 tokens');
    expect(last).toContain('Record PR #42 in the changelog.');
    const written = new Map(
      outcome.changes.flatMap((c) => ('content' in c ? [[c.path, c.content] as const] : [])),
    );
    expect(written.get('tests/add-entry/one/grader.mjs')).toBe(GRADER);
    expect(written.get('tests/add-entry/one/smoke/bad/CHANGELOG.md')).toBe('- Fix\n');
    expect(written.get('tests/add-entry/one/workspace/CHANGELOG.md')).toBe('# Changelog\n');
    expect(parse(String(written.get('tests/add-entry/one/probe.yaml')))).toMatchObject({
      prompt: 'Record PR #42 in the changelog.',
    });
  });
});
