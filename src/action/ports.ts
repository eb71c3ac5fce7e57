import type { ChainAccess } from '../access/chain-access.js';
import type { ModelAccess } from '../access/model-access.js';
import type { PreflightCheck } from '../access/preflight.js';
import type { SandboxMode } from '../bench/sandbox/index.js';
import type { RunnerName } from '../bench/types.js';
import type { Permission } from '../config/access.js';
import type { Config } from '../config/schema.js';
import type { RunStore } from '../store/port.js';
import type { BenchMatrix } from './bench-matrix.js';
import type { ActionContext } from './context.js';
import type { ActionInputs } from './inputs.js';
import type { Publisher } from './publish.js';
import type { WorkRemote } from './remote.js';

/** The pull request facts the Action reads. */
export interface PullRequestInfo {
  number: number;
  headRef: string;
  headSha: string;
  baseRef: string;
  isFork: boolean;
  body: string | null;
  user: string;
}

/**
 * The skill PR as a job knows it: its number and the head commit it has now. The rest (branches,
 * whether it comes from a fork) is read from GitHub only when something needs it, so a job that
 * resumes a run from a review makes no request for it (a stacked publication does).
 */
export interface SkillPr {
  number: number;
  headSha: string;
  read(): Promise<PullRequestInfo>;
}

export type CheckConclusion = 'success' | 'neutral' | 'failure';

/** Every GitHub call the Action makes, bound to the repository it runs in. */
export interface ActionGitHub {
  permissionOf(login: string): Promise<Permission | null>;
  getPullRequest(number: number): Promise<PullRequestInfo>;
  listPullRequestFiles(number: number): Promise<string[]>;
  findPullRequestByHead(
    head: string,
    base: string,
  ): Promise<{ number: number; body: string | null } | null>;
  createDraftPullRequest(args: {
    head: string;
    base: string;
    title: string;
    body: string;
  }): Promise<{ number: number; url: string }>;
  updatePullRequestBody(number: number, body: string): Promise<void>;
  /** One comment per marker on the issue/PR, edited in place. */
  upsertComment(issueNumber: number, marker: string, body: string): Promise<void>;
  postGateReview(number: number, commitId: string, body: string): Promise<void>;
  requestReviewers(number: number, reviewers: string[]): Promise<void>;
  listReviewComments(
    number: number,
    reviewId: number,
  ): Promise<Array<{ path: string | null; line: number | null; body: string }>>;
  /** In progress, or completed at once when a conclusion is given. */
  createCheckRun(args: {
    headSha: string;
    name: string;
    title: string;
    summary: string;
    conclusion?: CheckConclusion;
  }): Promise<number>;
  /** `name`, when given, is set again (a check run reused from an earlier job keeps its name). */
  completeCheckRun(
    id: number,
    args: { conclusion: CheckConclusion; title: string; summary: string; name?: string },
  ): Promise<void>;
}

/** Uploads and downloads the bench shards' results (`@actions/artifact` in the adapter). */
export interface ArtifactPort {
  upload(name: string, files: string[], rootDir: string): Promise<void>;
  /** Every artifact of this workflow run whose name starts with `prefix`. */
  list(prefix: string): Promise<Array<{ id: number; name: string }>>;
  /** Downloads and unpacks one artifact into `dir`. */
  download(id: number, dir: string): Promise<void>;
}

export interface ActionLog {
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
}

/** Model, bench and skill-source ports for one run; the adapter builds them from the API key. */
export type OpenAccess = (opts: {
  store: RunStore;
  repoRoot: string;
  config: Config;
  log: (line: string) => void;
}) => Promise<ChainAccess>;

export interface ActionDeps {
  inputs: ActionInputs;
  context: ActionContext;
  github: ActionGitHub;
  remote: WorkRemote;
  artifacts: ArtifactPort;
  openAccess: OpenAccess;
  /** Opens the draft PR of a finished run's improvement (docs/chain.md "Publishing"). */
  publisher: Publisher;
  /** What a run needs, checked before anything is written (access/preflight.ts). */
  preflight: (config: Config) => Promise<PreflightCheck[]>;
  /** Runner, sandbox and pricing for a bench shard. */
  openModel: (runner: RunnerName, sandboxMode: SandboxMode) => Promise<ModelAccess>;
  log: ActionLog;
  now: () => Date;
  /**
   * Whether this job's trials run in the strong sandbox (checked, not assumed). A fork's code
   * is only ever run when this says yes; the adapter answers no until it has verified it.
   */
  strongSandboxVerified: () => Promise<boolean>;
}

/** What a job ended with; the adapter turns it into outputs, the job summary and the exit code. */
export interface ActionOutcome {
  /** done | gate | stopped | failed | neutral (nothing to do, or could not run) | ignored */
  status: 'done' | 'gate' | 'stopped' | 'failed' | 'neutral' | 'ignored';
  /** The open gate's id, when the chain stopped at one. */
  gate: string | null;
  chainPr: number | null;
  costUsd: number | null;
  /** Markdown for the job summary. */
  summary: string;
  message: string;
  /** Step 06 fanned out: the job matrix for the shard jobs and the merge job (bench-matrix.ts). */
  benchMatrix?: BenchMatrix | null;
}
