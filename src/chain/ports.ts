import type { SmokeReport } from '../bench/grader.js';
import type { ExcludedProbe } from '../bench/run-bench.js';
import type { Shard, TrialKey } from '../bench/shard.js';
import type { IsolationLevel, TrialRecord } from '../bench/types.js';
import type { LoopSettings } from '../config/loop.js';
import type { Config } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import type { Usage } from '../model/usage.js';
import type { FileChange, RunStore } from '../store/port.js';
import type { BenchProgress, TrialCount } from './bench-progress.js';
import type { ChainModel } from './model.js';
import type { ChainState } from './state.js';

/** Runs the workbench for the chain's step 6; results land in a folder outside the run dir. */
export interface BenchPort {
  run(request: {
    /** Absolute path of the run dir's tests/suite.yml. */
    suitePath: string;
    /** Absolute path of the skill to bench (improved-skill/ else vendored-skill/). */
    skillDir: string;
    baseline: boolean;
    /** Absolute folder the bench may write its timestamped results folder into. */
    outRoot: string;
    /** Exactly these trials instead of the planned ones (a retry, or extra trials). */
    keys?: readonly TrialKey[];
    /** Only this shard of the planned trials (a bench-shard job of the job matrix). */
    shard?: Shard;
    /** Asked before each trial starts; false: the budget would be exceeded, do not start it. */
    reserve?: (model: string) => boolean;
    /** Called as each trial finishes, with this call's trials settled so far out of its total. */
    onTrial?: (record: TrialRecord, count: TrialCount) => void;
    signal?: AbortSignal;
  }): Promise<{
    dir: string;
    records: TrialRecord[];
    excluded: ExcludedProbe[];
    isolation: IsolationLevel;
    /** Trials not started because the budget would have been exceeded. */
    skipped: TrialKey[];
  }>;
  /** A trial's cost before any has been measured (a conservative typical trial). */
  estimateTrialCost(model: string): number;
  /**
   * The grader smoke check of one probe folder (docs/suite-format.md), with the suite's grader
   * dependencies (npm name → exact version) importable.
   */
  smoke(probe: {
    id: string;
    dir: string;
    graderPath: string;
    graderDependencies: Record<string, string>;
  }): Promise<SmokeReport>;
}

/** What step 2 may read of the upstream repository (read-only). */
export interface UpstreamInfo {
  repo: string;
  defaultBranch: string;
  license: string | null;
  contributing: string | null;
  /** Recent pull requests (or merge commits in local mode), newest first. */
  recentChanges: Array<{ title: string; state: 'merged' | 'closed' | 'open'; body: string }>;
  /** SKILL.md frontmatter seen in the upstream repository, as examples of its conventions. */
  skillFrontmatterExamples: string[];
  /** Where this skill lives upstream, when it was found there. */
  skillPath: string | null;
}

export interface UpstreamReader {
  read(source: string): Promise<UpstreamInfo>;
}

/** Reads a skill folder from the repository the run started in (for re-vendoring a wrapper). */
export interface SkillSource {
  /** The folder's files as changes under `prefix`; throws a clear error when it has no SKILL.md. */
  read(repoRelativePath: string, prefix: string): Promise<FileChange[]>;
}

/** Tokens and cost the chain's own model calls have spent in this process so far. */
export interface SpendMeter {
  spent(): { usage: Usage; cost_usd: number };
}

/** Everything a step may use; steps never read the environment or start other steps. */
export interface ChainDeps {
  store: RunStore;
  model: ChainModel;
  bench: BenchPort;
  upstream: UpstreamReader | null;
  config: Config;
  loop: LoopSettings;
  now: () => Date;
  log: (line: string) => void;
}

export interface StepRun {
  deps: ChainDeps;
  state: ChainState;
  /** Directives for this run of this step (possibly empty). */
  directives: string[];
  /** intent.md as it stands. */
  intent: string;
  /** The work branch head the step started from; stamped into its report. */
  head: string;
  signal?: AbortSignal;
  /** Step 6 reports its trials as they finish. */
  onBenchProgress?: (progress: BenchProgress) => void;
}

export interface StepOutcome {
  changes: FileChange[];
  /** One line for the commit message and the progress tracker. */
  result: string;
  /** State changes recorded in the same commit. */
  update?: (state: ChainState) => ChainState;
  /** Set when what the step found ends the run (its output is committed first). */
  finish?: { status: 'done' | 'stopped'; reason: string };
}

/** A step that finds its input unsatisfying reports that and stops (docs/chain.md). */
export class StepRefusedError extends SkillOptimizerError {}

/** What the driver needs on top of what steps use. */
export interface DriverDeps extends ChainDeps {
  source: SkillSource;
  meter: SpendMeter;
}
