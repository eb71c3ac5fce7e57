import { stepCommitMessage } from '../store/commit-message.js';

/** The nine steps of docs/chain.md: number, kind and the file each one reports in. */

export const STEP_IDS = [
  'functionality',
  'submissions',
  'design-tests',
  'write-tests',
  'validate-tests',
  'bench',
  'analyze',
  'improve',
  'validate',
] as const;

export type StepId = (typeof STEP_IDS)[number];

export type StepKind = 'fresh' | 'maintenance' | 'operator';

export interface StepInfo {
  id: StepId;
  number: number;
  kind: StepKind;
  /** The step's report in the run dir. */
  report: string;
}

const info = (id: StepId, number: number, kind: StepKind, report: string): StepInfo => ({
  id,
  number,
  kind,
  report,
});

export const STEPS: Readonly<Record<StepId, StepInfo>> = {
  functionality: info('functionality', 1, 'fresh', '01-functionality.md'),
  submissions: info('submissions', 2, 'fresh', '02-submissions.md'),
  'design-tests': info('design-tests', 3, 'maintenance', '03-test-proposals.md'),
  'write-tests': info('write-tests', 4, 'maintenance', 'tests/suite.yml'),
  'validate-tests': info('validate-tests', 5, 'fresh', '05-tests-verdict.md'),
  bench: info('bench', 6, 'operator', '06-bench-summary.md'),
  analyze: info('analyze', 7, 'fresh', '07-analysis.md'),
  improve: info('improve', 8, 'fresh', '08-improvement-proposal.md'),
  validate: info('validate', 9, 'fresh', '09-validator-verdict.md'),
};

/** Accepts `6`, `06`, `bench` or `06-bench`. */
export function parseStepRef(ref: string): StepId | null {
  const trimmed = ref.trim().toLowerCase();
  const byNumber = /^0?(\d)(?:-([a-z-]+))?$/.exec(trimmed);
  if (byNumber) {
    const step = Object.values(STEPS).find((s) => s.number === Number(byNumber[1]));
    if (step && (byNumber[2] === undefined || byNumber[2] === step.id)) return step.id;
    return null;
  }
  return (STEP_IDS as readonly string[]).includes(trimmed) ? (trimmed as StepId) : null;
}

/** Run-dir paths shared by several steps. */
export const RUN_FILES = {
  intent: 'intent.md',
  state: 'chain.yml',
  vendored: 'vendored-skill',
  improved: 'improved-skill',
  tests: 'tests',
  suite: 'tests/suite.yml',
  benchResults: '06-bench-results',
  report: 'report.md',
  answered: 'answered.txt',
} as const;

/** The commit of a completed step (docs/chain.md). */
export function stepCommit(slug: string, step: StepId, result: string): string {
  return stepCommitMessage(slug, STEPS[step].number, step, result);
}

/** Operator commits that are not a step (vendoring, gate answers, the final report). */
export function operatorCommit(slug: string, what: string, result: string): string {
  return `skill-optimizer(${slug}): ${what} — ${result.replace(/\s+/g, ' ').trim()}`;
}
