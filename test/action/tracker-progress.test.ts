import { describe, expect, it } from 'vitest';
import type { GitHubRun } from '../../src/action/open-run.js';
import type { ActionGitHub } from '../../src/action/ports.js';
import { TRACKER_PROGRESS_EVERY_MS, TrackerSync } from '../../src/action/tracker-sync.js';
import type { TrialRecord } from '../../src/bench/types.js';
import type { BenchProgress } from '../../src/chain/bench-progress.js';
import { openRun } from '../../src/chain/start.js';
import { makeRepo, SKILL } from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/** Step 6's progress on the chain PR: on the bench line, edited at most once a minute. */

const sandbox = useGitSandbox();

const at = (done: number): BenchProgress => ({
  done,
  total: 6,
  passed: done,
  errors: 0,
  cost_usd: done / 4,
  last: { status: 'pass', cost_usd: 0.25 } as TrialRecord,
});

describe('TrackerSync.benchProgress', () => {
  it('shows trials done on the bench line and edits the chain PR at most once a minute until the job ends', async () => {
    const repo = makeRepo(sandbox.base);
    const opened = await openRun({
      cwd: repo,
      skillDir: SKILL,
      runRoot: '.skill-optimizer',
      autopilot: false,
      actor: 'octocat',
      now: () => new Date(),
    });
    try {
      const bodies: string[] = [];
      const github = {
        updatePullRequestBody: async (_number: number, body: string) => {
          bodies.push(body);
        },
      } as unknown as ActionGitHub;
      const run = {
        store: opened.store,
        local: opened.store,
        slug: opened.store.slug,
        branch: opened.store.branch,
        created: true,
        close: () => opened.store.close(),
      } as unknown as GitHubRun;
      let now = 1_000_000;
      const sync = new TrackerSync(github, run, { skillPr: 3, triggeredBy: 'octocat' }, () => now);
      sync.chainPr = 9;
      const benchLine = (body: string | undefined) =>
        /^- \[ \] 06 bench: .*$/m.exec(body ?? '')?.[0];

      sync.progress('06 bench: running');
      await sync.settle();
      expect(benchLine(bodies.at(-1))).toBe('- [ ] 06 bench: **running**');

      // Within a minute of the last edit nothing is sent; what is pending waits for later.
      expect(sync.benchProgress(at(1))).toBe(false);
      await sync.settle();
      expect(bodies).toHaveLength(1);

      now += TRACKER_PROGRESS_EVERY_MS;
      expect(sync.benchProgress(at(2))).toBe(true);
      await sync.settle();
      expect(benchLine(bodies.at(-1))).toBe(
        '- [ ] 06 bench: **running** — 2/6 trials, 2 passed, 0 errors, $0.50 spent',
      );
      const sent = bodies.length;

      now += TRACKER_PROGRESS_EVERY_MS - 1;
      expect(sync.benchProgress(at(3))).toBe(false);
      await sync.settle();
      expect(bodies).toHaveLength(sent);

      now += 1;
      expect(sync.benchProgress(at(4))).toBe(true);
      await sync.settle();
      expect(bodies).toHaveLength(sent + 1);
      expect(benchLine(bodies.at(-1))).toBe(
        '- [ ] 06 bench: **running** — 4/6 trials, 4 passed, 0 errors, $1.00 spent',
      );

      // A pushed step waits for the next step's start or the flush: one edit per step boundary,
      // and none within a minute of the last edit.
      await sync.pushed();
      expect(bodies).toHaveLength(sent + 1);
      sync.progress('07 analyze: running');
      await sync.settle();
      expect(bodies).toHaveLength(sent + 1);
      now += TRACKER_PROGRESS_EVERY_MS;
      await sync.pushed();
      sync.progress('08 improve: running');
      await sync.settle();
      expect(bodies).toHaveLength(sent + 2);
      expect(benchLine(bodies.at(-1))).toBe('- [ ] 06 bench: pending');
      expect(bodies.at(-1)).toMatch(/^- \[ \] 08 improve: \*\*running\*\*$/m);

      // The job's end sends what is left, whenever the last edit was.
      await sync.pushed();
      await sync.flush();
      expect(bodies).toHaveLength(sent + 3);
      expect(bodies.at(-1)).toMatch(/^- \[ \] 08 improve: pending$/m);
      // Nothing new: neither a second flush nor an unchanged body edits the chain PR again.
      await sync.flush();
      await sync.send();
      expect(bodies).toHaveLength(sent + 3);
    } finally {
      await opened.store.close();
    }
  });
});
