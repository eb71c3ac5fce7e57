import { describe, expect, it } from 'vitest';
import {
  chainState,
  cli,
  demoRules,
  makeRepo,
  releasePassesWithSkill,
  SKILL,
  smallDesign,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/** Step 6's progress as the CLI prints it when stdout is not a terminal. */

const sandbox = useGitSandbox();

describe('bench progress on the command line', () => {
  it('prints trials done of total, passes, errors and cost while step 6 runs', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = releasePassesWithSkill(
      smallDesign(demoRules(), ['fixed-with-pr', 'cut-minor-release', 'cut-patch-release']),
    );
    const run = await cli(
      repo,
      'run',
      SKILL,
      '--autopilot',
      '--scripted',
      writeScript(sandbox.base, rules),
    );
    expect(run.code).toBe(0);
    // Three probes with the skill and three baseline trials; the first and the last are shown.
    const lines = run.stdout.split('\n');
    const bench = lines.slice(lines.indexOf('  06 bench: running'));
    // Trials finish in any order: which one comes first, and so the cost at the first, varies.
    expect(bench[0]).toBe('  06 bench: running');
    expect(bench[1]).toMatch(/^ {2}06 bench: 1\/6 trials, [01] passed, 0 errors, \$0\.\d\d spent$/);
    expect(bench[2]).toMatch(/^ {2}06 bench: 6\/6 trials, 3 passed, 0 errors, \$0\.\d\d spent$/);
    expect(bench[3]).toBe('  06 bench: 100% pass (3 graded, 0 errors), held-out 100%, baseline 0%');
    expect(chainState(repo).status).toBe('done');
  });
});
