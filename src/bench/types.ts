import type { Usage } from '../model/usage.js';

/** A skill folder as an agent loads it. */
export interface Skill {
  /** Absolute path of the skill folder. */
  dir: string;
  name: string;
  description: string;
  /** All frontmatter keys, `name` and `description` included. */
  frontmatter: Record<string, unknown>;
  /** Markdown body after the frontmatter. */
  body: string;
  /** The raw SKILL.md text. */
  raw: string;
  /** Other files of the skill, relative to `dir`, sorted, `/`-separated. */
  files: string[];
}

export interface ProbeLimits {
  /** Model turns (assistant messages) before the trial is stopped. */
  max_turns: number;
  /** Output tokens per model call. */
  max_output_tokens: number;
  /** Total tokens (input + output) of a trial before it is stopped. */
  max_total_tokens: number;
  /** Wall-clock limit of a trial in seconds. */
  timeout_s: number;
}

/** One concrete test: task prompt + starting workspace + grader (docs/chain.md). */
export interface Probe {
  /** Stable id: the probe folder relative to the suite folder, `/`-separated. */
  id: string;
  dir: string;
  prompt: string;
  limits: ProbeLimits;
  tags: string[];
  heldout: boolean;
  workspaceDir: string;
  graderPath: string;
}

export type RunnerName = 'messages' | 'claude-code';

export interface Suite {
  /** Absolute path of suite.yml. */
  path: string;
  dir: string;
  /** Absolute path of the skill under test. */
  skillDir: string;
  models: string[];
  trials: number;
  concurrency: number;
  runner: RunnerName;
  probes: Probe[];
  /** npm package name → exact version, importable by every grader of the suite. */
  graderDependencies?: Record<string, string>;
}

/** One Messages-API-shaped transcript entry. */
export interface TranscriptMessage {
  role: 'user' | 'assistant';
  content: string | Array<Record<string, unknown>>;
}

export interface GraderResult {
  pass: boolean;
  score?: number;
  reasons: string[];
}

export type StopReason =
  | 'end_turn'
  | 'max_turns'
  | 'max_tokens'
  | 'timeout'
  | 'budget'
  | 'refusal'
  | 'error';

export type IsolationLevel = 'bubblewrap' | 'process';

export interface RunnerInput {
  probe: Probe;
  /** null in baseline mode: same probe, no skill. */
  skill: Skill | null;
  model: string;
  /** The trial's private copy of the probe workspace. */
  workspaceDir: string;
  signal: AbortSignal;
}

export interface RunnerOutput {
  transcript: TranscriptMessage[];
  finalMessage: string;
  usage: Usage;
  stopReason: StopReason;
  /** claude-code runner: whether the agent invoked the Skill tool for this skill. */
  skillTriggered?: boolean;
  /** Set when the trial could not complete (recorded as an error, not a fail). */
  error?: string;
}

export interface Runner {
  readonly name: RunnerName;
  runTrial(input: RunnerInput): Promise<RunnerOutput>;
}

/** pass/fail come from the grader; error means the trial or grader broke and says nothing. */
export type TrialStatus = 'pass' | 'fail' | 'error';

/** One line of results.jsonl. */
export interface TrialRecord {
  probe: string;
  model: string;
  trial: number;
  baseline: boolean;
  heldout: boolean;
  runner: RunnerName;
  status: TrialStatus;
  grader: GraderResult | null;
  error: string | null;
  transcript: TranscriptMessage[];
  finalMessage: string;
  usage: Usage;
  cost_usd: number;
  duration_ms: number;
  stop_reason: StopReason;
  skill_triggered: boolean | null;
  isolation: IsolationLevel;
}
