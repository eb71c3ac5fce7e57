import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  cli,
  commitLabels,
  demoRules,
  listRunFiles,
  makeRepo,
  ruleNamed,
  SKILL,
  showRunFile,
  smallDesign,
  toolInput,
  withInput,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/**
 * The demo's scripted chain with a candidate that chases the probes: the tool, not the model's
 * self-check, finds the visible probe's URL on the added lines and the held-out version in 07.
 */

const sandbox = useGitSandbox();
const PROBES = ['fixed-with-pr', 'cut-minor-release', 'cut-patch-release'];
const URL = 'https://github.com/acme/widget/compare/v1.2.0...v1.3.0';

/** The YAML frontmatter of a report. */
const frontmatter = (text: string | null) =>
  parse(/^---\n([\s\S]*?)\n---/.exec(text ?? '')?.[1] ?? '') as Record<string, unknown>;

/** The demo's improve reply with the visible probe's URL added as an example to its new rule. */
function tapedProposal(rules: ReturnType<typeof demoRules>) {
  const proposal = structuredClone(toolInput(ruleNamed(rules, 'improve'))) as {
    edits: Array<{ path: string; replace: Array<{ old: string; new: string }> }>;
  };
  const replacement = proposal.edits[0]?.replace[0];
  if (replacement === undefined) throw new Error('the demo improve reply has no replacement');
  const general =
    "   line above the previous release's compares that release's tag with the new one.";
  expect(replacement.new).toContain(general);
  replacement.new = replacement.new.replace(general, `${general}\n   For example \`${URL}\`.`);
  return proposal;
}

describe('a duct-tape candidate in the scripted chain', () => {
  it('shows the validator the probe URL the proposal copies, and blocks a held-out version in 07', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = smallDesign(demoRules(), PROBES);
    const proposal = tapedProposal(rules);
    // answers only when the validator's prompt lists the finding; the demo's rule approves
    const shown = withInput(
      ruleNamed(rules, 'validate'),
      {
        verdict: 'reject',
        findings: [{ severity: 'blocker', finding: 'Copies a probe URL into the skill.' }],
        summary: 'Duct tape.',
      },
      'validate sees the duct tape',
      {
        contains: `\`${URL}\` (url) from visible probe release/cut-minor-release, added at SKILL.md:`,
      },
    );
    const taped = writeScript(sandbox.base, [
      withInput(ruleNamed(rules, 'improve'), proposal, 'improve with duct tape'),
      shown,
      ...rules,
    ]);

    expect((await cli(repo, 'run', SKILL, '--scripted', taped)).code).toBe(0);
    expect((await cli(repo, 'answer', 'no', '--scripted', taped)).code).toBe(0);
    expect((await cli(repo, 'pick', 'add-entry,release', '--scripted', taped)).code).toBe(0);
    const benched = await cli(repo, 'approve', '--scripted', taped);
    expect(benched.code).toBe(0);
    expect(benched.stdout).toMatch(
      /08 improve: addresses no-release-procedure; .+; 1 duct-tape finding/,
    );
    expect(benched.stdout).toContain('09 validate: reject (1 blocker): Duct tape.');

    const finding = `\`${URL}\` (url) from visible probe release/cut-minor-release, at SKILL.md:`;
    expect(showRunFile(repo, '08-improvement-proposal.md')).toContain(`- ${finding}`);
    const verdict = frontmatter(showRunFile(repo, '09-validator-verdict.md'));
    expect(verdict.verdict).toBe('reject');
    expect(verdict.heldout_findings).toEqual([]);
    expect(verdict.duct_tape_findings).toEqual([expect.stringContaining(finding)]);
    expect(listRunFiles(repo, 'improved-skill')).toEqual([]);

    // 07 naming the held-out probe's version: step 7 fails, 07 stays as it was
    const analysis = structuredClone(toolInput(ruleNamed(rules, 'analyze'))) as {
      weaknesses: Array<{ would_not_address: string[] }>;
    };
    analysis.weaknesses[0]?.would_not_address.push('Hard-coding release 1.2.1 into the skill');
    const leaky = writeScript(sandbox.base, [
      withInput(ruleNamed(rules, 'analyze'), analysis, 'analyze naming a held-out version'),
      ...rules,
    ]);
    const before = showRunFile(repo, '07-analysis.md');
    const rerun = await cli(repo, 'rerun', '7', '--scripted', leaky);
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toMatch(
      /^error: step 07 analyze failed: 07-analysis\.md carries 1 literal of held-out probes, which steps 7–9 must never see, so the candidate is blocked: a version of a held-out probe at 07-analysis\.md:\d+/m,
    );
    expect(rerun.stderr).not.toContain('1.2.1');
    expect(commitLabels(repo).slice(-2)).toEqual(['rerun analyze', '07 analyze failed']);
    expect(showRunFile(repo, '07-analysis.md')).toBe(before);
  });

  it('overrides a validator that approves duct tape: needs-revision, one blocker per literal', async () => {
    const repo = makeRepo(sandbox.base, { config: { max_revisions: 0 } });
    const rules = smallDesign(demoRules(), PROBES);
    const proposal = tapedProposal(rules);
    // the demo's own validator rule approves whatever it is shown
    const taped = writeScript(sandbox.base, [
      withInput(ruleNamed(rules, 'improve'), proposal, 'improve with duct tape'),
      ...rules,
    ]);
    const run = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', taped);
    // Autopilot takes the verdict gate's default (stop): a run stopped short exits 2.
    expect(run.stdout).toContain('run stopped: stopped at the verdict gate');
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/09 validate: needs-revision \(1 blocker, 1 minor\)/);
    const verdict = showRunFile(repo, '09-validator-verdict.md') ?? '';
    expect(frontmatter(verdict).verdict).toBe('needs-revision');
    expect(verdict).toContain(
      `The diff adds url \`${URL}\` from visible probe release/cut-minor-release (SKILL.md:`,
    );
    expect(verdict).toContain('The tool overrode the approval');
    expect(listRunFiles(repo, 'improved-skill')).toEqual([]);
  });
});
