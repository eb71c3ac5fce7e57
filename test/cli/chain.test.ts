import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openRun } from '../../src/chain/start.js';
import {
  chainState,
  cli,
  commitLabels,
  demoRules,
  git,
  head,
  listRunFiles,
  makeRepo,
  ROOT,
  type Rule,
  releasePassesWithSkill,
  ruleNamed,
  SKILL,
  showRunFile,
  smallDesign,
  toolInput,
  withInput,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/** The chain through its command line: every gate asked and answered, and refusals. */

const sandbox = useGitSandbox();
const THREE = ['fixed-with-pr', 'cut-minor-release', 'cut-patch-release'];
const THREE_IDS = [
  'add-entry/fixed-with-pr',
  'release/cut-minor-release',
  'release/cut-patch-release',
];
const at = (skill: string) => `--skill ${skill}`;

describe('gates from the command line', () => {
  it('asks every gate of a run and takes answers, picks, reruns and stop from the CLI', async () => {
    const repo = makeRepo(sandbox.base, { config: { max_revisions: 1 } });
    const rules = smallDesign(demoRules(), THREE);
    /** A rule answering `input` instead, ahead of the demo's (first matching rule answers). */
    const variant = (name: string, input: Record<string, unknown>, when = {}) =>
      withInput(ruleNamed(rules, name), input, `${name} variant`, when);
    const rejectRule = variant('validate', {
      verdict: 'reject',
      findings: [{ severity: 'blocker', finding: 'The new section names one project.' }],
      summary: 'Tied to one project.',
    });
    const reject = writeScript(sandbox.base, [rejectRule, ...rules]);

    const started = await cli(repo, 'run', SKILL, '--scripted', reject);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(
      "started run 'keep-a-changelog' on branch skill-optimizer/keep-a-changelog",
    );
    expect(started.stdout).toContain(
      'waiting at the upstream-intent gate (after step functionality):\nShould the result be proposed upstream as a draft PR? Step 1 read the intent as upstream-bound.',
    );
    expect(started.stdout).toContain(
      `  skill-optimizer approve ${at(SKILL)}    # yes: upstream-bound: research the upstream repository (step 2) (default)`,
    );
    expect(started.stdout).toContain(
      `  skill-optimizer answer no ${at(SKILL)}    # no: keep the result in this repository`,
    );
    expect(started.stdout).toContain('look at: 01-functionality.md');

    const wrong = await cli(repo, 'answer', 'maybe');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      "error: 'maybe' is not an answer to the upstream-intent gate; choose one of: yes, no\n",
    );
    expect(chainState(repo).open_gate?.id).toBe('upstream-intent');

    const no = await cli(repo, 'answer', 'no', '--scripted', reject);
    expect(no.code).toBe(0);
    expect(no.stdout).toContain('waiting at the picks gate (after step design-tests):');
    expect(no.stdout).toContain(`  skill-optimizer pick <f1,f2|all|top N> ${at(SKILL)}`);

    const picked = await cli(repo, 'pick', 'add-entry,release', '--scripted', reject);
    expect(picked.code).toBe(0);
    expect(picked.stdout).toContain('picked: add-entry, release');
    expect(picked.stdout).toContain('waiting at the build-plan gate (after step write-tests):');
    for (const probe of THREE_IDS) expect(picked.stdout).toContain(`| \`${probe}\` | new |`);

    const status = await cli(repo, 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^status: gate$/m);
    expect(status.stdout).toMatch(/^ {2}01 functionality {3}done$/m);
    expect(status.stdout).toMatch(/^ {2}02 submissions {5}pending$/m);
    expect(status.stdout).toMatch(/^ {2}03 design-tests {4}done$/m);
    expect(status.stdout).toMatch(/^ {2}06 bench {11}pending$/m);
    expect(status.stdout).toMatch(/^cost so far: \$0\.\d{4} \(\d+ input tokens, \d+ output\)$/m);
    expect(status.stdout).toContain('waiting at the build-plan gate');

    const rejected = await cli(repo, 'approve', '--scripted', reject);
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toContain('06 bench: 33.3% pass');
    expect(rejected.stdout).toContain('09 validate: reject');
    expect(rejected.stdout).toContain('waiting at the verdict gate (after step validate):');
    expect(rejected.stdout).toContain("The validator's verdict is `reject`");
    expect(rejected.stdout).toContain(
      `  skill-optimizer approve ${at(SKILL)}    # stop: stop and write the report (default)`,
    );
    expect(listRunFiles(repo, 'improved-skill')).toEqual([]);
    expect(commitLabels(repo)).toEqual([
      '00 vendor',
      '01 functionality',
      'gate upstream-intent',
      'gate upstream-intent',
      '03 design-tests',
      'gate picks',
      'pick',
      'gate build-plan',
      'gate build-plan',
      '04 write-tests',
      '05 validate-tests',
      '06 bench',
      '07 analyze',
      '08 improve',
      '09 validate',
      'gate verdict',
    ]);

    // rerun 7 with a directive: the analyst sees it; improve and validate follow.
    const analysis = { ...toolInput(ruleNamed(rules, 'analyze')), summary: 'DIRECTIVE-SEEN.' };
    const steered = writeScript(sandbox.base, [
      variant('analyze', analysis, { contains: 'Look again at the release links.' }),
      rejectRule,
      ...rules,
    ]);
    const rerun = await cli(
      repo,
      'rerun',
      '7',
      '--directive',
      'Look again at the release links.',
      '--scripted',
      steered,
    );
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('queued a re-run of analyze');
    expect(commitLabels(repo).slice(-5)).toEqual([
      'rerun analyze',
      '07 analyze',
      '08 improve',
      '09 validate',
      'gate verdict',
    ]);
    expect(showRunFile(repo, '07-analysis.md')).toContain('DIRECTIVE-SEEN.');
    expect(chainState(repo).directives.analyze ?? []).toEqual([]);

    // Edits whose old text is not in the skill: after the bounded repairs (the scripted model
    // repeats itself), step 8 fails with the problem and writes nothing.
    const proposal = structuredClone(toolInput(ruleNamed(rules, 'improve'))) as {
      edits: Array<{ replace: Array<{ old: string }> }>;
    };
    const replacement = proposal.edits[0]?.replace[0];
    if (replacement === undefined) throw new Error('the demo improve reply has no replacement');
    replacement.old = 'This line is not in the skill.';
    const badDiff = writeScript(sandbox.base, [variant('improve', proposal), ...rules]);
    const proposalBefore = showRunFile(repo, '08-improvement-proposal.md');
    const failed = await cli(
      repo,
      'rerun',
      '8',
      '--directive',
      'Stay general.',
      '--scripted',
      badDiff,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^error: step 08 improve failed: .+3 times \(after 2 repair attempts\): edit 1 \(SKILL\.md\), replacement 1: the old text "This line is not in the skill\." was not found/m,
    );
    expect(commitLabels(repo).slice(-2)).toEqual(['rerun improve', '08 improve failed']);
    expect(showRunFile(repo, '08-improvement-proposal.md')).toBe(proposalBefore);
    expect(listRunFiles(repo, 'improved-skill')).toEqual([]);
    expect(chainState(repo).directives.improve).toEqual(['Stay general.']);

    // needs-revision twice with max_revisions 1: the verdict gate, not a third round.
    const revise = writeScript(sandbox.base, [
      variant('validate', {
        verdict: 'needs-revision',
        findings: [{ severity: 'major', finding: 'Say what to do when no date is given.' }],
        summary: 'Close, one gap.',
      }),
      ...rules,
    ]);
    const revised = await cli(repo, 'rerun', 'improve', '--scripted', revise);
    expect(revised.code).toBe(0);
    expect(commitLabels(repo).slice(-6)).toEqual([
      'rerun improve',
      '08 improve',
      '09 validate',
      '08 improve',
      '09 validate',
      'gate verdict',
    ]);
    expect(revised.stdout).toContain("The validator's verdict is `needs-revision`");
    expect(revised.stdout).toContain('1 revision rounds (max_revisions) did not satisfy');

    const stopped = await cli(repo, 'approve');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain('answered the verdict gate: stop');
    const state = chainState(repo);
    expect(state.status).toBe('stopped');
    expect(state.stop_reason).toBe('stopped at the verdict gate');
    expect(state.decisions.map((d) => `${d.gate}:${d.answer}:${d.by}`)).toEqual([
      'upstream-intent:no:Human Dev',
      'picks:pick add-entry,release:Human Dev',
      'build-plan:approve:Human Dev',
      'verdict:rerun analyze:Human Dev',
      'verdict:rerun improve:Human Dev',
      'verdict:stop:Human Dev',
    ]);
    expect(showRunFile(repo, 'report.md')).toContain('**Outcome:** stopped at the verdict gate');

    const done = await cli(repo, 'status');
    expect(done.stdout).toContain('status: stopped — stopped at the verdict gate');
    expect(done.stdout).toMatch(/^ {2}0: 33\.3% \(held-out 0%, baseline 0%\)$/m);
    // New intent on an ended run: recorded, and the steps that read it show as stale.
    const more = await cli(
      repo,
      'run',
      SKILL,
      '--intent',
      'Also cover yanked releases.',
      '--scripted',
      reject,
    );
    expect(more.stdout).toContain("resuming run 'keep-a-changelog'");
    expect(more.stdout).toContain('run stopped: stopped at the verdict gate');
    expect(showRunFile(repo, 'intent.md')).toContain('Also cover yanked releases.');
    const stale = await cli(repo, 'status');
    expect(stale.stdout).toMatch(/^ {2}01 functionality {3}stale$/m);
    expect(stale.stdout).toMatch(/^ {2}03 design-tests {4}stale$/m);
    expect(stale.stdout).toMatch(/^ {2}07 analyze {9}done$/m);

    const unknownStep = await cli(repo, 'rerun', '12');
    expect(unknownStep.code).toBe(1);
    expect(unknownStep.stderr).toContain("error: unknown step '12'; use a number 1-9");
    const noGate = await cli(repo, 'approve');
    expect(noGate.code).toBe(1);
    expect(noGate.stderr).toContain(
      "error: no gate is open for 'keep-a-changelog' (status: stopped)",
    );
  });

  it('asks about a wrapper: keep it, re-vendor its target, or cancel', async () => {
    const wrapper = (name: string) =>
      `---\nname: ${name}\ndescription: Keeps changelogs. WRAPPER-MARKER\n---\n\nSee \`../keep-a-changelog/SKILL.md\`.\n`;
    const repo = makeRepo(sandbox.base, {
      files: {
        'skills/changelog-wrapper/SKILL.md': wrapper('changelog-wrapper'),
        'skills/other-wrapper/SKILL.md': wrapper('other-wrapper'),
      },
    });
    const rules = demoRules();
    const functionality = ruleNamed(rules, 'functionality');
    const asWrapper = {
      ...toolInput(functionality),
      likely_wrapper: true,
      wrapper_points_to: '../keep-a-changelog',
    };
    const script = writeScript(sandbox.base, [
      withInput(functionality, asWrapper, 'wrapper', { contains: 'WRAPPER-MARKER' }),
      ...rules,
    ]);
    const W = 'skills/changelog-wrapper';
    const slug = 'changelog-wrapper';

    const asked = await cli(repo, 'run', W, '--scripted', script);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain('waiting at the wrapper gate (after step functionality):');
    expect(asked.stdout).toContain('pointing to `../keep-a-changelog`');
    expect(asked.stdout).toContain(`  skill-optimizer approve ${at(W)}    # revendor:`);
    expect(asked.stdout).toContain(`  skill-optimizer answer keep ${at(W)}    # keep:`);
    expect(asked.stdout).toContain(`  skill-optimizer answer cancel ${at(W)}    # cancel:`);

    const kept = await cli(repo, 'answer', 'keep', '--skill', W, '--scripted', script);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('waiting at the upstream-intent gate');
    expect(chainState(repo, slug).wrapper).toBe('keep');

    // Re-running step 1 asks again; this time the target is vendored and step 1 runs on it.
    const again = await cli(repo, 'rerun', '1', '--skill', W, '--scripted', script);
    expect(again.stdout).toContain('waiting at the wrapper gate');
    const revendored = await cli(repo, 'approve', '--skill', W, '--scripted', script);
    expect(revendored.code).toBe(0);
    expect(revendored.stdout).toContain('waiting at the upstream-intent gate');
    expect(commitLabels(repo, slug).slice(-3)).toEqual([
      'gate wrapper',
      '01 functionality',
      'gate upstream-intent',
    ]);
    expect(showRunFile(repo, 'vendored-skill/SKILL.md', slug)).toBe(
      readFileSync(join(repo, SKILL, 'SKILL.md'), 'utf8').trim(),
    );
    expect(listRunFiles(repo, 'vendored-skill/reference', slug)).not.toEqual([]);
    expect(showRunFile(repo, '01-functionality.md', slug)).toContain('likely_wrapper: false');

    const stopped = await cli(repo, 'stop', '--skill', W);
    expect(stopped.code).toBe(0);
    expect(chainState(repo, slug).status).toBe('stopped');
    expect(showRunFile(repo, 'report.md', slug) ?? '').toContain(
      '**Outcome:** stopped by Human Dev',
    );
    expect((await cli(repo, 'stop', '--skill', W)).stdout).toContain('has already ended');

    const other = 'skills/other-wrapper';
    expect((await cli(repo, 'run', other, '--scripted', script)).stdout).toContain(
      'waiting at the wrapper gate',
    );
    const ambiguous = await cli(repo, 'status');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain('several runs exist');
    const cancelled = await cli(repo, 'answer', 'cancel', '--skill', other);
    expect(cancelled.code).toBe(0);
    const state = chainState(repo, 'other-wrapper');
    expect(state.status).toBe('stopped');
    expect(state.stop_reason).toBe('cancelled at the wrapper gate');
    expect(showRunFile(repo, 'report.md', 'other-wrapper')).toContain(
      'cancelled at the wrapper gate',
    );
  });
});

describe('bad input', () => {
  it('refuses a folder without SKILL.md, invalid frontmatter and uncommitted skill changes', async () => {
    const repo = makeRepo(sandbox.base, {
      files: {
        'skills/notes/README.md': '# Notes\n',
        'skills/half/SKILL.md': '---\nname: half-done\n---\nBody.\n',
      },
    });
    const none = await cli(repo, 'run', 'skills/notes');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('error: skills/notes: no SKILL.md in this folder');

    const half = await cli(repo, 'run', 'skills/half');
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/^error: .*skills\/half\/SKILL\.md.*description/m);

    const skillMd = join(repo, SKILL, 'SKILL.md');
    writeFileSync(skillMd, `${readFileSync(skillMd, 'utf8')}\nAn uncommitted line.\n`);
    const dirty = await cli(repo, 'run', SKILL);
    expect(dirty.code).toBe(1);
    expect(dirty.stderr).toContain(
      'error: skills/keep-a-changelog has uncommitted changes; commit or stash them first',
    );
    expect(git(repo, 'branch', '--list', 'skill-optimizer/*')).toBe('');
  });

  it('says first on the terminal when the config asks for the weaker process sandbox', async () => {
    const repo = makeRepo(sandbox.base, { config: { sandbox: 'process' } });
    const run = await cli(repo, 'run', SKILL, '--scripted', writeScript(sandbox.base, demoRules()));
    expect(run.code).toBe(0);
    expect(run.stderr.split('\n')[0]).toMatch(
      /^Warning: weaker isolation\. Trials and graders run as plain processes because the `process` sandbox mode was chosen explicitly/,
    );
    expect(run.stdout.split('\n')[0]).toMatch(/^started run 'keep-a-changelog'/);
  });

  it('refuses an unknown --sandbox before starting anything', async () => {
    const repo = makeRepo(sandbox.base);
    const run = await cli(repo, 'run', SKILL, '--sandbox', 'bogus');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^error: --sandbox must be one of auto, bubblewrap, process \(got 'bogus'\)/,
    );
    expect(git(repo, 'branch', '--list', 'skill-optimizer/*')).toBe('');
  });

  it('refuses a second run of a skill while one holds the lock', async () => {
    const repo = makeRepo(sandbox.base);
    const first = await openRun({
      cwd: repo,
      skillDir: SKILL,
      runRoot: '.skill-optimizer',
      autopilot: false,
      actor: 'first',
      now: () => new Date(),
    });
    try {
      // A valid script: the preflight checks it before the lock is tried.
      const script = writeScript(sandbox.base, demoRules());
      const second = await cli(repo, 'run', SKILL, '--scripted', script);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(
        new RegExp(
          `^error: a run of 'keep-a-changelog' is already in progress \\(pid ${process.pid} since .+\\)`,
          'm',
        ),
      );
      expect((await cli(repo, 'status')).stderr).toContain('already in progress');
    } finally {
      await first.store.close();
    }
    expect(commitLabels(repo)).toEqual(['00 vendor']);
  });

  it('respects a human edit of picked: committed on the work branch', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = smallDesign(demoRules(), ['fixed-with-pr', 'missing-changelog']);
    const review = ruleNamed(rules, 'review create-file/missing-changelog');
    // Step 5 fails on a review that breaks its schema: the run stops right after step 4.
    const script = writeScript(
      sandbox.base,
      rules.map((r): Rule => (r === review ? withInput(review, { verdict: 'maybe' }, r.name) : r)),
    );
    expect((await cli(repo, 'run', SKILL, '--scripted', script)).code).toBe(0);
    expect((await cli(repo, 'answer', 'no', '--scripted', script)).code).toBe(0);

    const status = await cli(repo, 'status');
    const files = /^files: (.+)$/m.exec(status.stdout)?.[1];
    expect(files).toBeDefined();
    const spec = join(files as string, 'tests', 'create-file', 'spec.yaml');
    const text = readFileSync(spec, 'utf8');
    expect(parse(text).picked).toBe(false);
    writeFileSync(spec, text.replace(/^picked: false$/m, 'picked: true'));
    const worktree = git(files as string, 'rev-parse', '--show-toplevel');
    git(worktree, 'commit', '--quiet', '-am', 'Pick create-file only');

    const plan = await cli(repo, 'approve', '--scripted', script);
    expect(plan.stdout).toContain('waiting at the build-plan gate');
    expect(plan.stdout).toContain('Picked functionalities: `create-file`.');
    expect(plan.stdout).not.toContain('add-entry/fixed-with-pr');

    const written = await cli(repo, 'approve', '--scripted', script);
    expect(written.code).toBe(1);
    expect(written.stderr).toContain('error: step 05 validate-tests failed');
    const suite = parse(showRunFile(repo, 'tests/suite.yml') ?? '') as { probes: string[] };
    expect(suite.probes).toEqual(['create-file/missing-changelog']);
    expect(listRunFiles(repo, 'tests/add-entry')).toEqual(['tests/add-entry/spec.yaml']);
  });

  it('resumes a run killed during the bench from its last committed step', async () => {
    const repo = makeRepo(sandbox.base);
    // Release probes pass with the skill as it is: the first bench passes every probe, and the
    // all-pass gate (accepted by autopilot) ends the run.
    const rules = releasePassesWithSkill(smallDesign(demoRules(), THREE));
    const slow = writeScript(
      sandbox.base,
      rules.map((r) => (r.name.startsWith('trial: ') ? { ...r, latency_ms: 300 } : r)),
    );
    const script = writeScript(sandbox.base, rules);
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href,
        join(ROOT, 'src', 'cli', 'main.ts'),
        'run',
        SKILL,
        '--autopilot',
        '--scripted',
        slow,
      ],
      {
        cwd: repo,
        env: { ...process.env, ANTHROPIC_API_KEY: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const killed = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('06 bench: running') && child.exitCode === null) {
          child.kill('SIGKILL');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on('error', reject);
      child.on('close', (_code, signal) =>
        signal === 'SIGKILL' ? resolve() : reject(new Error(`not killed:\n${output}`)),
      );
    });
    await killed;
    const atKill = commitLabels(repo);
    expect(atKill.at(-1)).toBe('05 validate-tests');
    expect(atKill).not.toContain('06 bench');
    const beforeResume = head(repo);

    const resumed = await cli(repo, 'run', SKILL, '--scripted', script);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`from pid ${child.pid}`);
    expect(resumed.stdout).toContain("resuming run 'keep-a-changelog'");
    expect(resumed.stdout).toContain('run done: every probe passes; accepted at the gate');
    const labels = commitLabels(repo);
    expect(labels.slice(0, atKill.length)).toEqual(atKill);
    expect(
      git(repo, 'merge-base', '--is-ancestor', beforeResume, 'skill-optimizer/keep-a-changelog'),
    ).toBe('');
    for (const step of [
      '01 functionality',
      '03 design-tests',
      '04 write-tests',
      '05 validate-tests',
    ]) {
      expect(labels.filter((l) => l === step)).toHaveLength(1);
    }
    expect(labels.filter((l) => l === '06 bench')).toHaveLength(1);
    expect(chainState(repo).status).toBe('done');
  });
});
