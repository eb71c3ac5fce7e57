import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialState } from '../../src/chain/state.js';
import {
  gatherFunctionalityInput,
  renderFunctionalityPrompt,
} from '../../src/chain/steps/functionality.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, seedRunDir } from './firewall-fixture.js';

const sandbox = useGitSandbox();
let store: LocalRunStore;

beforeAll(async () => {
  ({ store } = await seedRunDir(sandbox.base));
});
afterAll(async () => {
  await store?.close();
});

describe('step 1 functionality: context firewall', () => {
  it('renders only the vendored skill, its source and the intent', async () => {
    const state = initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: 'c'.repeat(40),
      autopilot: false,
    });
    const input = await gatherFunctionalityInput(store, { state, directives: ['be brief'] });
    const prompt = await renderFunctionalityPrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    expectOnly(
      text,
      ['intent.md', 'vendored-skill/SKILL.md', 'vendored-skill/reference/types.md'],
      HELDOUT_MARKERS,
    );
    expect(text).toContain('skills/keep-a-changelog @ cccccccccccc');
    expect(text).toContain('be brief');
  });
});
