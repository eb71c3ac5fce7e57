import { type BenchProgress, benchProgressLine } from '../chain/bench-progress.js';
import { STEP_IDS, type StepId } from '../chain/catalog.js';
import { loadState } from '../chain/driver.js';
import type { ChainState } from '../chain/state.js';
import { renderTracker, type TrackerCheckRun } from '../routing/tracker.js';
import { runGit } from '../store/git.js';
import type { GitHubRun } from './open-run.js';
import type { ActionGitHub } from './ports.js';

/** The shortest time between two edits of the chain PR while the job runs (its end always edits). */
export const TRACKER_PROGRESS_EVERY_MS = 60_000;

/**
 * Keeps the chain PR body (the live tracker) in step with the run: one edited body, never a
 * comment per update. Updates are serialised so the newest state always lands last, and
 * coalesced: a pushed step's result waits for the next step's start (or the job's flush), so each
 * step boundary costs at most one edit, none within a minute of the last one (the job's flush
 * sends what is left), and a body the PR already has is never sent again.
 */
export class TrackerSync {
  private queue: Promise<void> = Promise.resolve();
  private running: StepId | null = null;
  chainPr: number | null = null;
  /** The skill PR's check run this job reports on; the state block records it for the next job. */
  checkRun: TrackerCheckRun | null = null;
  /** The publishing section shown under the checklist once a finished run was published. */
  publication: string | null = null;
  /** The body the chain PR is known to have; an identical update is not sent again. */
  private sent: string | null = null;
  /** The running step's progress shown on its line. */
  private detail: string | null = null;
  /** When the chain PR was last edited (ms). */
  private sentAt: number | null = null;
  /** A pushed commit the chain PR does not show yet (sent with the next step or the flush). */
  private pending = false;

  constructor(
    private readonly github: ActionGitHub,
    private readonly run: GitHubRun,
    private readonly who: { skillPr: number; triggeredBy: string },
    private readonly now: () => number = Date.now,
  ) {}

  /** The body for the run's current state (pinned to the branch head when a gate is open). */
  async body(state?: ChainState): Promise<string> {
    const current = state ?? (await loadState({ store: this.run.store }));
    const body = renderTracker(current, {
      skillPr: this.who.skillPr,
      triggeredBy: this.who.triggeredBy,
      pinnedSha: current.open_gate === null ? null : await this.run.store.head(),
      results: await stepResults(this.run),
      running: this.running,
      runningDetail: this.running === null ? null : this.detail,
      checkRun: this.checkRun,
    });
    return this.publication === null ? body : `${body}\n${this.publication}`;
  }

  /** Records the body the chain PR already has (just created, or read back from GitHub). */
  known(body: string | null): void {
    this.sent = body;
  }

  /** Writes the body for `state` (default: the run's current state) unless the PR has it already. */
  async send(state?: ChainState): Promise<void> {
    const number = this.chainPr;
    if (number === null) return;
    this.pending = false;
    const body = await this.body(state);
    if (body === this.sent) return;
    await this.github.updatePullRequestBody(number, body);
    this.sent = body;
    this.sentAt = this.now();
  }

  /** Called with each driver progress line; `NN step: running` marks the step as running. */
  progress(line: string): void {
    const match = /^\d\d ([a-z-]+): running$/.exec(line);
    if (match && (STEP_IDS as readonly string[]).includes(match[1] ?? '')) {
      this.running = match[1] as StepId;
      if (this.recentlySent()) {
        this.pending = this.chainPr !== null;
        return;
      }
      this.pending = false;
      this.schedule();
    }
  }

  /**
   * Called with each of step 6's trials: the step's line shows the progress, and the chain PR is
   * edited at most once per TRACKER_PROGRESS_EVERY_MS (GitHub rate limits, notification noise).
   * Returns whether this update was sent.
   */
  benchProgress(progress: BenchProgress): boolean {
    this.detail = benchProgressLine(progress).replace(/^06 bench: /, '');
    if (this.recentlySent()) {
      this.pending = this.chainPr !== null;
      return false;
    }
    // Counted as sent now, so trials finishing while this edit is in flight do not queue more.
    this.sentAt = this.now();
    this.schedule();
    return true;
  }

  private recentlySent(): boolean {
    return this.sentAt !== null && this.now() - this.sentAt < TRACKER_PROGRESS_EVERY_MS;
  }

  /**
   * Called after every pushed commit: the step is no longer running. The edit waits for the next
   * step's start, which shows this result too, or for `flush` when the job stops here. Resolves
   * once the edits already in flight have landed.
   */
  pushed(): Promise<void> {
    this.running = null;
    this.detail = null;
    this.pending = this.chainPr !== null;
    return this.settle();
  }

  /** Sends what the chain PR does not show yet, then waits for every edit in flight. */
  flush(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      this.schedule();
    }
    return this.queue;
  }

  /** Waits for the edits in flight; a pushed step not shown yet stays for the next `send`. */
  settle(): Promise<void> {
    return this.queue;
  }

  private schedule(): void {
    if (this.chainPr === null) return;
    this.queue = this.queue.then(() => this.send());
  }
}

/** One-line results of the steps, newest first, from the work branch's step commits. */
export async function stepResults(run: GitHubRun): Promise<Partial<Record<StepId, string>>> {
  const log = await runGit(['log', '--format=%s', 'HEAD', '--', run.store.runDir], {
    cwd: run.local.worktreeDir,
  });
  const prefix = `skill-optimizer(${run.slug}): `;
  const results: Partial<Record<StepId, string>> = {};
  for (const subject of log.stdout.split('\n')) {
    if (!subject.startsWith(prefix)) continue;
    const match = /^\d\d ([a-z-]+) — (.*)$/.exec(subject.slice(prefix.length));
    const step = match?.[1] as StepId | undefined;
    if (step && STEP_IDS.includes(step) && results[step] === undefined) {
      results[step] = match?.[2] ?? '';
    }
  }
  return results;
}
