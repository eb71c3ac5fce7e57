import { expect } from 'vitest';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import type { FileChange } from '../../src/store/port.js';
import { makeRepo } from '../store/git-fixture.js';

/**
 * A run dir where every file carries a distinctive marker (`FW<n>_<path>`), so a role's
 * rendered prompt can be checked for what it must never contain (docs/chain.md firewall).
 * Held-out probes and their results carry their own markers.
 */

const marker = (path: string) => `FW_${path.replace(/[^a-zA-Z0-9]+/g, '_')}_END`;

const HEAD = 'a'.repeat(40);
const fm = (yaml: string, body: string) => `---\n${yaml.trim()}\n---\n\n${body}\n`;

function trialRecord(probe: string, heldout: boolean, trial: number, text: string) {
  return JSON.stringify({
    probe,
    model: 'claude-sonnet-4-6',
    trial,
    baseline: false,
    heldout,
    runner: 'messages',
    status: trial === 1 ? 'fail' : 'pass',
    grader: { pass: trial !== 1, score: trial === 1 ? 0 : 1, reasons: [`grader reason ${text}`] },
    error: null,
    transcript: [
      { role: 'user', content: `task prompt ${text}` },
      { role: 'assistant', content: [{ type: 'text', text: `agent reply ${text}` }] },
    ],
    finalMessage: `final ${text}`,
    usage: {
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
    cost_usd: 0.001,
    duration_ms: 100,
    stop_reason: 'end_turn',
    skill_triggered: null,
    isolation: 'bubblewrap',
  });
}

/** Paths of the seeded run dir and their markers. */
export function seededFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const add = (path: string, content: (m: string) => string) => {
    files[path] = content(marker(path));
  };
  add('intent.md', (m) => `Make it better at releases. ${m}\n`);
  add(
    'vendored-skill/SKILL.md',
    (m) =>
      `---\nname: keep-a-changelog\ndescription: Keep a changelog. ${m}\n---\n\n# Body\n\nVendored body ${m}\n`,
  );
  add('vendored-skill/reference/types.md', (m) => `Reference ${m}\n`);
  add(
    'improved-skill/SKILL.md',
    (m) =>
      `---\nname: keep-a-changelog\ndescription: Keep a changelog. ${m}\n---\n\n# Body\n\nImproved body ${m}\n`,
  );
  add('improved-skill/reference/types.md', (m) => `Improved reference ${m}\n`);
  add('01-functionality.md', (m) =>
    fm(
      'skill_name: keep-a-changelog\nskill_source: skills/keep-a-changelog @ abc\nclassification: document\npr_submission_intent: true\nlikely_wrapper: false\nwrapper_points_to: null',
      `# Functionality\n\n- **add-entry** — Add entries ${m}`,
    ),
  );
  add('02-submissions.md', (m) =>
    fm(
      'pr_target_repo: acme/skills\npr_target_path: skills/keep-a-changelog\nbase_branch: main\nlicense: MIT\nrequires_cla: false',
      `Conventions ${m}`,
    ),
  );
  add('03-test-proposals.md', (m) => fm('functionalities: [add-entry, release]', `Proposals ${m}`));
  add('tests/suite.yml', (m) =>
    [
      `# ${m}`,
      'skill: ../vendored-skill',
      'models: [claude-sonnet-4-6]',
      'probes: [add-entry/fixed-with-pr, release/cut-release]',
      '',
    ].join('\n'),
  );
  for (const [f, probe, heldout] of [
    ['add-entry', 'fixed-with-pr', false],
    ['release', 'cut-release', true],
  ] as const) {
    add(`tests/${f}/spec.yaml`, (m) =>
      [
        `functionality: ${f}`,
        'picked: true',
        'priority: 1',
        `responsibility: Responsibility ${m}`,
        'probes:',
        `  - id: ${probe}`,
        `    intent: Intent ${m}`,
        `    heldout: ${heldout}`,
        '',
      ].join('\n'),
    );
    const dir = `tests/${f}/${probe}`;
    add(`${dir}/probe.yaml`, (m) => `prompt: Probe prompt ${m}\nheldout: ${heldout}\n`);
    add(`${dir}/workspace/CHANGELOG.md`, (m) => `# Changelog ${m}\n`);
    add(
      `${dir}/grader.mjs`,
      (m) => `// ${m}\nexport default async () => ({ pass: true, reasons: [] });\n`,
    );
    add(`${dir}/smoke/good/CHANGELOG.md`, (m) => `good ${m}\n`);
    add(`${dir}/smoke/bad/CHANGELOG.md`, (m) => `bad ${m}\n`);
    add(`${dir}/smoke/empty/.gitkeep`, () => '');
  }
  add('05-tests-verdict.md', (m) =>
    fm(
      'all_probes_approved: true\nprobes:\n  add-entry/fixed-with-pr: approved\n  release/cut-release: approved',
      `Verdicts ${m}`,
    ),
  );
  add('06-bench-summary.md', (m) =>
    fm(
      'iteration: 0\nskill: vendored-skill\nresults_dir: 06-bench-results/2026-11-22T00-00-00Z\npass_rate: 50\nheldout_pass_rate: 50\nmin_probe_pass_rate: 0\nbaseline_pass_rate: 0\nall_pass: false\naccepted: null',
      `Summary ${m}`,
    ),
  );
  const results = '06-bench-results/2026-11-22T00-00-00Z/results.jsonl';
  files[results] = [
    trialRecord('add-entry/fixed-with-pr', false, 1, 'VISIBLE_TRIAL_1'),
    trialRecord('add-entry/fixed-with-pr', false, 2, 'VISIBLE_TRIAL_2'),
    trialRecord('release/cut-release', true, 1, marker('heldout-trial-1')),
    trialRecord('release/cut-release', true, 2, marker('heldout-trial-2')),
  ].join('\n');
  add('07-analysis.md', (m) =>
    fm('has_structural_weakness: true\nweaknesses: [no-release-guidance]', `Analysis ${m}`),
  );
  add('08-improvement-proposal.md', (m) =>
    fm(
      'addresses_weaknesses: [no-release-guidance]',
      `Proposal ${m}\n\n\`\`\`diff\n--- a/SKILL.md\n+++ b/SKILL.md\n@@ -1 +1 @@\n-x\n+y ${m}\n\`\`\``,
    ),
  );
  add('09-validator-verdict.md', (m) => fm('verdict: needs-revision', `Findings ${m}`));
  add('report.md', (m) => `# Report ${m}\n`);
  return files;
}

export const HELDOUT_MARKERS = [marker('heldout-trial-1'), marker('heldout-trial-2')];
export const markerOf = marker;
export const FIXTURE_HEAD = HEAD;

/** A real work branch holding the seeded run dir. */
export async function seedRunDir(base: string): Promise<{
  store: LocalRunStore;
  files: Record<string, string>;
}> {
  const repo = await makeRepo(base);
  const store = await openLocalRun({ repoDir: repo, slug: 'keep-a-changelog' });
  const files = seededFiles();
  const changes: FileChange[] = Object.entries(files).map(([path, content]) => ({ path, content }));
  await store.commit('seed', changes);
  return { store, files };
}

/**
 * Asserts the firewall: no marker of a forbidden path (any path not allowed) is in the text,
 * and every allowed path's marker is, so the check cannot pass by rendering nothing.
 */
export function expectOnly(text: string, allowed: string[], extraForbidden: string[] = []) {
  const files = seededFiles();
  for (const path of Object.keys(files)) {
    const m = marker(path);
    if (!files[path]?.includes(m)) continue;
    if (allowed.includes(path)) expect(text, `allowed input ${path} is missing`).toContain(m);
    else expect(text, `forbidden input ${path} leaked into the prompt`).not.toContain(m);
  }
  for (const m of extraForbidden) expect(text, `forbidden content ${m} leaked`).not.toContain(m);
}
