import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { HeldoutLiteralError } from '../../src/chain/candidate-scan.js';
import { extractDiff } from '../../src/chain/diff.js';
import {
  type ChainModel,
  createChainModel,
  type Role,
  type RolePrompt,
} from '../../src/chain/model.js';
import { StepRefusedError, type StepRun } from '../../src/chain/ports.js';
import { proposalFrontmatter } from '../../src/chain/reports.js';
import { type ChainState, initialState } from '../../src/chain/state.js';
import {
  gatherImproveInput,
  type ImproveOutput,
  ProposalRejectedError,
  renderImprovePrompt,
  runImprove,
} from '../../src/chain/steps/improve.js';
import { defaultConfig } from '../../src/config/schema.js';
import { createModelClient } from '../../src/model/client.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { InvalidModelOutputError } from '../../src/model/structured.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, markerOf, seedRunDir } from './firewall-fixture.js';

const sandbox = useGitSandbox();
let store: LocalRunStore;

const WOULD_NOT = [
  'Naming the probe file in a special rule',
  'Copying the expected entry text into the skill',
];

const analysis = (has: boolean) =>
  has
    ? [
        '---',
        'has_structural_weakness: true',
        'weaknesses: [no-release-guidance]',
        '---',
        '',
        `# Analysis\n\nReleases fail. ${markerOf('07-analysis.md')}`,
        '',
        '## Weakness `no-release-guidance`',
        '',
        '- **Pattern:** releases are cut without moving Unreleased entries',
        '',
        '**Would address it (general principle):** describe the release procedure',
        '',
        '**Would NOT address it (duct tape):**',
        ...WOULD_NOT.map((i) => `- ${i}`),
        '',
      ].join('\n')
    : '---\nhas_structural_weakness: false\nweaknesses: []\n---\n\nNothing structural.\n';

const improvedMarker = markerOf('improved-skill/SKILL.md');
const RULE = 'When cutting a release, move every Unreleased entry under the new version heading.';
const editWith = (rule: string) => [
  {
    path: 'SKILL.md',
    replace: [
      {
        old: `Improved body ${improvedMarker}\n`,
        new: `Improved body ${improvedMarker}\n\n${rule}\n`,
      },
    ],
  },
];
const goodEdits = editWith(RULE);
const goodHunk = [
  '--- a/SKILL.md',
  '+++ b/SKILL.md',
  `@@ -6,3 +6,5 @@ description: Keep a changelog. ${improvedMarker}`,
  ' # Body',
  ' ',
  ` Improved body ${improvedMarker}`,
  '+',
  `+${RULE}`,
  '',
].join('\n');

const answer: ImproveOutput = {
  addresses_weaknesses: ['no-release-guidance'],
  rationale: 'Releases need a procedure.\n```diff\nnot the diff\n```',
  edits: goodEdits,
  self_check: [
    {
      would_not_item: 'naming the probe file in a special rule.',
      respected: true,
      note: 'no file names',
    },
    { would_not_item: WOULD_NOT[1] ?? '', respected: true, note: 'no expected text' },
  ],
};

function fakeModel(out: unknown) {
  const calls: Array<{ role: Role; prompt: RolePrompt }> = [];
  const model: ChainModel = {
    async call(role, prompt, output) {
      calls.push({ role, prompt });
      return output.schema.parse(out);
    },
  };
  return { model, calls };
}

function state(upstream: boolean | null): ChainState {
  return {
    ...initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'c'.repeat(40),
      autopilot: true,
    }),
    upstream,
  };
}

async function stepRun(model: ChainModel, upstream: boolean | null = false): Promise<StepRun> {
  return {
    deps: {
      store,
      model,
      bench: {
        run: () => Promise.reject(new Error('no bench in step 8')),
        smoke: () => Promise.reject(new Error('no smoke in step 8')),
        estimateTrialCost: () => 0,
      },
      upstream: null,
      config: defaultConfig(),
      loop: { threshold: 80, maxIterations: 5, maxRevisions: 2 },
      now: () => new Date('2026-01-01T00:00:00Z'),
      log: () => undefined,
    },
    state: state(upstream),
    directives: ['keep it short'],
    intent: '',
    head: await store.head(),
  };
}

beforeAll(async () => {
  ({ store } = await seedRunDir(sandbox.base));
});
beforeEach(async () => {
  await store.commit('07', [{ path: '07-analysis.md', content: analysis(true) }], {
    allowEmpty: true,
  });
});
afterAll(async () => {
  await store?.close();
});

describe('step 8 improve: context firewall', () => {
  it('renders 07, 01, the current skill and the intent; 02 only when upstream-bound', async () => {
    const common = [
      '07-analysis.md',
      '01-functionality.md',
      'improved-skill/SKILL.md',
      'improved-skill/reference/types.md',
      'intent.md',
    ];
    for (const upstream of [false, true]) {
      const input = await gatherImproveInput(store, { state: state(upstream), directives: [] });
      const prompt = await renderImprovePrompt(input);
      const text = `${prompt.shared}\n${prompt.task}`;
      expectOnly(text, upstream ? [...common, '02-submissions.md'] : common, HELDOUT_MARKERS);
      expect(text).not.toContain('VISIBLE_TRIAL');
      for (const item of WOULD_NOT) expect(text).toContain(item);
    }
  });
});

describe('runImprove', () => {
  it('writes 08 with the self-check table and the diff, leaving the rationale out of the diff', async () => {
    const { model, calls } = fakeModel(answer);
    const outcome = await runImprove(await stepRun(model));
    expect(calls.map((c) => c.role)).toEqual(['optimizer']);
    expect(calls[0]?.prompt.shared).toContain('keep it short');
    expect(outcome.changes.map((c) => c.path)).toEqual(['08-improvement-proposal.md']);
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    const report = parseFrontmatter(String(change.content), '08', proposalFrontmatter);
    expect(report.data).toEqual({ addresses_weaknesses: ['no-release-guidance'] });
    expect(report.body).toContain('Releases need a procedure.');
    expect(report.body).toContain(
      '| `no-release-guidance` | Copying the expected entry text into the skill | yes | no expected text |',
    );
    const diff = extractDiff(report.body);
    expect(diff).toMatch(
      /^diff --git a\/SKILL\.md b\/SKILL\.md\nindex [0-9a-f]+\.\.[0-9a-f]+ 100644\n/,
    );
    expect(diff).toContain(goodHunk);
    expect(outcome.result).toBe('addresses no-release-guidance; 1 file(s), +2 −0 lines');
  });

  it('refuses when the analysis found no structural weakness', async () => {
    await store.commit('07 none', [{ path: '07-analysis.md', content: analysis(false) }]);
    const { model, calls } = fakeModel(answer);
    await expect(runImprove(await stepRun(model))).rejects.toThrow(StepRefusedError);
    await expect(runImprove(await stepRun(model))).rejects.toThrow(/no structural weakness/);
    expect(calls).toHaveLength(0);
  });

  it.each([
    [
      'an id the analysis does not list',
      { ...answer, addresses_weaknesses: ['no-release-guidance', 'made-up'] },
      /'made-up', which the analysis \(07\) does not list/,
    ],
    [
      'a missing self-check item',
      { ...answer, self_check: answer.self_check.slice(1) },
      /leaves out these "would NOT" items: no-release-guidance: Naming the probe file/,
    ],
    [
      'a self-check the proposal does not respect',
      {
        ...answer,
        self_check: answer.self_check.map((c) => ({ ...c, respected: false, note: 'oops' })),
      },
      /would NOT address the weakness: .*\(oops\)/,
    ],
    [
      'edits that break the frontmatter',
      {
        ...answer,
        edits: [{ path: 'SKILL.md', replace: [{ old: 'name: keep-a-changelog\n', new: '' }] }],
      },
      /edits break the skill: .*name/,
    ],
    [
      'edits that change nothing',
      {
        ...answer,
        edits: [{ path: 'SKILL.md', replace: [{ old: '# Body', new: '# Body' }] }],
      },
      /change nothing in the skill/,
    ],
    [
      'edits that do not apply to the current skill',
      {
        ...answer,
        edits: [{ path: 'SKILL.md', replace: [{ old: 'Vendored body', new: 'x' }] }],
      },
      /edit 1 \(SKILL\.md\), replacement 1: the old text "Vendored body" was not found/,
    ],
  ])('rejects %s and writes nothing', async (_what, out, message) => {
    const error = await runImprove(await stepRun(fakeModel(out).model)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalRejectedError);
    expect((error as Error).message).toMatch(message);
  });

  it('lists visible-probe literals on the added lines in 08 and in the result', async () => {
    const visible = markerOf('tests/add-entry/fixed-with-pr/probe.yaml');
    const taped = {
      ...answer,
      edits: editWith(
        RULE.replace('new version heading.', `new version heading, as in ${visible}.`),
      ),
    };
    const outcome = await runImprove(await stepRun(fakeModel(taped).model));
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    const report = parseFrontmatter(String(change.content), '08', proposalFrontmatter);
    expect(report.body).toContain(
      `## Probe literals in the added lines (found by the tool)\n\nThese strings come from visible probes; the validator is shown this list.\n\n- \`${visible}\` (id) from visible probe add-entry/fixed-with-pr, at SKILL.md:10\n`,
    );
    expect(extractDiff(report.body)).toContain(
      `+When cutting a release, move every Unreleased entry under the new version heading, as in ${visible}.\n`,
    );
    expect(outcome.result).toBe(
      'addresses no-release-guidance; 1 file(s), +2 −0 lines; 1 duct-tape finding',
    );
  });

  it.each([
    [
      'its diff',
      (m: string) => ({
        ...answer,
        edits: editWith(RULE.replace('new version heading.', `heading ${m}.`)),
      }),
    ],
    ['its rationale', (m: string) => ({ ...answer, rationale: `Because of ${m}.` })],
  ])(
    'blocks a proposal carrying a held-out literal in %s and writes nothing',
    async (_where, make) => {
      const heldout = markerOf('tests/release/cut-release/probe.yaml');
      const error = await runImprove(await stepRun(fakeModel(make(heldout)).model)).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HeldoutLiteralError);
      expect((error as Error).message).toMatch(
        /^08-improvement-proposal\.md carries 1 literal of held-out probes, .*an id of a held-out probe at 08-improvement-proposal\.md:\d+$/,
      );
      expect((error as HeldoutLiteralError).retry).toBe('skill-optimizer rerun improve');
    },
  );

  it('rejects an edit that would overwrite a binary file of the skill with text', async () => {
    await store.commit('a binary file', [
      { path: 'improved-skill/assets/logo.png', content: Buffer.from([0x89, 0x50, 0, 1]) },
    ]);
    try {
      const out = { ...answer, edits: [{ path: 'assets/logo.png', content: 'text' }] };
      const error = await runImprove(await stepRun(fakeModel(out).model)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProposalRejectedError);
      expect((error as Error).message).toContain('assets/logo.png is a binary file');
    } finally {
      await store.commit('drop it', [{ path: 'improved-skill/assets/logo.png', delete: true }]);
    }
  });

  it('refuses to show the optimizer a 07 that carries a held-out literal', async () => {
    const heldout = markerOf('tests/release/cut-release/probe.yaml');
    await store.commit('07 edited by hand', [
      {
        path: '07-analysis.md',
        content: analysis(true).replace('Releases fail.', `See ${heldout}.`),
      },
    ]);
    const { model, calls } = fakeModel(answer);
    const error = await runImprove(await stepRun(model)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeldoutLiteralError);
    expect((error as Error).message).toMatch(
      /^07-analysis\.md carries 1 literal of held-out probes/,
    );
    expect((error as HeldoutLiteralError).retry).toBe('skill-optimizer rerun analyze');
    expect(calls).toHaveLength(0);
  });
});

describe('runImprove with edits that do not apply (scripted model)', () => {
  const servers: ScriptedServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  const reply = (edits: unknown) => ({
    content: [{ type: 'tool_use', name: 'propose_improvement', input: { ...answer, edits } }],
  });
  // one character off: the file says "Improved body", the model types "Improved  body"
  const offByOne = [
    {
      path: 'SKILL.md',
      replace: [{ old: `Improved  body ${improvedMarker}\n`, new: `Improved body\n\n${RULE}\n` }],
    },
  ];
  // the marker occurs in the description and in the body
  const notUnique = [{ path: 'SKILL.md', replace: [{ old: improvedMarker, new: RULE }] }];

  async function serveModel(turns: unknown[]) {
    const script = parseScript(
      JSON.stringify({
        rules: turns.map((edits, i) => ({
          name: `turn-${i + 1}`,
          when: { tool_offered: 'propose_improvement', turn: i + 1 },
          reply: reply(edits),
        })),
      }),
      'improve.json',
    );
    const server = await startScriptedServer({ script });
    servers.push(server);
    const client = createModelClient({ apiKey: 'sk-test', baseURL: server.url, maxAttempts: 1 });
    return {
      server,
      model: createChainModel(client, defaultConfig().models, {
        contextShare: defaultConfig().context_share,
      }),
    };
  }

  const messagesOf = (server: ScriptedServer, i: number) =>
    JSON.stringify((server.requests[i]?.body as { messages: unknown[] }).messages);

  it('sends the exact problem back in the same conversation, and applies the repaired edits', async () => {
    const { server, model } = await serveModel([offByOne, notUnique, goodEdits]);
    const outcome = await runImprove(await stepRun(model));

    expect(server.requests.map((r) => r.rule)).toEqual(['turn-1', 'turn-2', 'turn-3']);
    const second = messagesOf(server, 1);
    expect(second).toContain('"is_error":true');
    expect(second).toContain('edit 1 (SKILL.md), replacement 1: the old text \\"Improved  body');
    expect(second).toContain('was not found');
    const third = messagesOf(server, 2);
    expect(third).toContain('Improved  body'); // the first answer is still in the conversation
    expect(third).toContain(
      `the old text \\"${improvedMarker}\\" occurs 2 times (lines 3, 8); include more of the surrounding text`,
    );
    const change = outcome.changes[0];
    if (!change || !('content' in change)) throw new Error('expected a written file');
    expect(extractDiff(String(change.content))).toContain(goodHunk);
  });

  it('stops after the bounded repairs with the last problem, never retrying blind', async () => {
    const { server, model } = await serveModel([offByOne, offByOne, offByOne, goodEdits]);
    const error = await runImprove(await stepRun(model)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidModelOutputError);
    expect((error as Error).message).toContain('3 times (after 2 repair attempts)');
    expect((error as Error).message).toContain('was not found');
    expect(server.requests).toHaveLength(3);
  });
});
