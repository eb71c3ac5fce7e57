import { afterAll, describe, expect, it } from 'vitest';
import { readProbeTexts, scanCandidate } from '../../src/chain/candidate-scan.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { markerOf, seedRunDir } from './firewall-fixture.js';

const sandbox = useGitSandbox();
const stores: LocalRunStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

async function freshStore(): Promise<LocalRunStore> {
  const { store } = await seedRunDir(sandbox.base);
  stores.push(store);
  return store;
}

const VISIBLE = markerOf('tests/add-entry/fixed-with-pr/probe.yaml');
const HELDOUT = markerOf('tests/release/cut-release/workspace/CHANGELOG.md');

describe('readProbeTexts', () => {
  it("reads every probe file, the prompt of probe.yaml and a grader as code; the spec's held-out flag wins", async () => {
    const store = await freshStore();
    await store.commit('probe.yaml forgets its flag', [
      { path: 'tests/release/cut-release/probe.yaml', content: 'prompt: Cut it\nheldout: false\n' },
    ]);
    const texts = await readProbeTexts(store);
    expect(texts.map((t) => [t.file, t.heldout, t.code])).toEqual([
      ['tests/add-entry/fixed-with-pr/grader.mjs', false, true],
      ['tests/add-entry/fixed-with-pr/probe.yaml', false, false],
      ['tests/add-entry/fixed-with-pr/smoke/bad/CHANGELOG.md', false, false],
      ['tests/add-entry/fixed-with-pr/smoke/empty/.gitkeep', false, false],
      ['tests/add-entry/fixed-with-pr/smoke/good/CHANGELOG.md', false, false],
      ['tests/add-entry/fixed-with-pr/workspace/CHANGELOG.md', false, false],
      ['tests/release/cut-release/grader.mjs', true, true],
      ['tests/release/cut-release/probe.yaml', true, false],
      ['tests/release/cut-release/smoke/bad/CHANGELOG.md', true, false],
      ['tests/release/cut-release/smoke/empty/.gitkeep', true, false],
      ['tests/release/cut-release/smoke/good/CHANGELOG.md', true, false],
      ['tests/release/cut-release/workspace/CHANGELOG.md', true, false],
    ]);
    const yaml = texts.find((t) => t.file === 'tests/add-entry/fixed-with-pr/probe.yaml');
    expect(yaml?.text).toBe(`Probe prompt ${VISIBLE}\n\n`);
  });
});

describe('scanCandidate', () => {
  it('finds held-out literals in 07, 08 and 09 and visible-probe literals on the added lines', async () => {
    const store = await freshStore();
    await store.commit('candidate', [
      {
        path: '07-analysis.md',
        content: `---\nhas_structural_weakness: true\nweaknesses: [x]\n---\n\nSee ${HELDOUT}.\n`,
      },
      {
        path: '08-improvement-proposal.md',
        content: [
          '---',
          'addresses_weaknesses: [x]',
          '---',
          '',
          `Context mentions ${VISIBLE} outside the diff.`,
          '',
          '```diff',
          '--- a/SKILL.md',
          '+++ b/SKILL.md',
          '@@ -1,2 +1,3 @@',
          ` kept ${VISIBLE}`,
          '+A general rule.',
          `+Write ${VISIBLE} exactly.`,
          '```',
          '',
        ].join('\n'),
      },
    ]);
    const scan = await scanCandidate(store);
    expect(scan.heldout.map((f) => [f.literal, f.where])).toEqual([
      [HELDOUT, { file: '07-analysis.md', line: 6 }],
    ]);
    expect(scan.ductTape.map((f) => [f.literal, f.probe, f.where])).toEqual([
      [VISIBLE, 'add-entry/fixed-with-pr', { file: 'SKILL.md', line: 3 }],
    ]);
  });

  it('holds nothing for a clean candidate, nor for what the intent already names', async () => {
    const store = await freshStore();
    expect(await scanCandidate(store)).toEqual({ heldout: [], ductTape: [] });
    await store.commit('intent names it; 07 repeats it', [
      { path: 'intent.md', content: `Releases like ${HELDOUT} must work.\n` },
      {
        path: '07-analysis.md',
        content: `---\nhas_structural_weakness: true\nweaknesses: [x]\n---\n\nSee ${HELDOUT}.\n`,
      },
    ]);
    expect((await scanCandidate(store)).heldout).toEqual([]);
  });
});
