import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type Comparison, compareResults } from '../../bench/compare.js';
import { parseResults } from '../../bench/results.js';
import { pooled, summarise } from '../../bench/stats.js';
import { renderComparison, renderSummary } from '../../bench/summary.js';
import type { TrialRecord } from '../../bench/types.js';
import { addUsage } from '../../model/usage.js';
import type { FileChange, RunStore } from '../../store/port.js';
import { readTree } from '../../store/read-tree.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import { currentSkillCopy, readReport, requireReport, writeReport } from '../inputs.js';
import { type StepOutcome, StepRefusedError, type StepRun } from '../ports.js';
import { type BenchFrontmatter, benchFrontmatter, testsVerdictFrontmatter } from '../reports.js';
import type { BenchPoint } from '../state.js';

const REPORT = STEPS.bench.report;

/**
 * Step 6 (operator only): bench the current skill against the approved suite — with the no-skill
 * baseline on the first bench — and, after an improvement, keep it only when it is accepted
 * (CHAIN.md §6.4); otherwise restore the skill the previous bench measured.
 */
export async function runBenchStep(run: StepRun): Promise<StepOutcome> {
  const { store, bench } = run.deps;
  const verdict = await requireReport(
    store,
    STEPS['validate-tests'].report,
    testsVerdictFrontmatter,
    '5 (validate-tests)',
  );
  if (!verdict.data.all_probes_approved) {
    throw new StepRefusedError(
      'step 6 refuses to bench: 05-tests-verdict.md says not every probe is approved (all_probes_approved: false)',
    );
  }
  const copy = await currentSkillCopy(store);
  const first = run.state.benches.length === 0;
  const scratch = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-'));
  try {
    const result = await bench.run({
      suitePath: store.absolutePath(RUN_FILES.suite),
      skillDir: store.absolutePath(copy),
      baseline: first,
      outRoot: scratch,
      ...(run.signal ? { signal: run.signal } : {}),
    });
    const resultsDir = `${RUN_FILES.benchResults}/${basename(result.dir)}`;
    const changes: FileChange[] = await readTree(result.dir, resultsDir);

    const previous = first ? null : await previousBench(store);
    // Only a skill changed since the previous bench is an improvement to accept or discard; a
    // re-bench of the same skill (harder probes, a rerun) is a new measurement, not a verdict.
    const improved =
      previous !== null &&
      copy === 'improved-skill' &&
      !(await changedBefore(store, RUN_FILES.improved, previous.commit));
    const comparison =
      improved && previous !== null
        ? compareResults(
            previous.records.filter((r) => !r.baseline),
            result.records.filter((r) => !r.baseline),
          )
        : null;
    const accepted = comparison === null ? null : comparison.accepted;
    if (accepted === false && previous !== null) {
      changes.push(...(await restoreSkill(store, previous.commit)));
    }

    const point = benchPoint(
      result.records,
      run.state.benches.length,
      copy,
      resultsDir,
      accepted,
      run.state.benches,
    );
    const fm: BenchFrontmatter = {
      iteration: point.iteration,
      skill: copy,
      results_dir: resultsDir,
      pass_rate: point.pass_rate,
      heldout_pass_rate: point.heldout_pass_rate,
      min_probe_pass_rate: point.min_probe_pass_rate,
      baseline_pass_rate: point.baseline_pass_rate,
      all_pass: allPass(result.records),
      accepted,
    };
    const body = [
      renderSummary({
        title: `Bench ${point.iteration}: ${copy}`,
        records: result.records,
        excluded: result.excluded,
        isolation: result.isolation,
      }),
      ...(comparison ? ['', '## Against the previous bench', '', comparisonText(comparison)] : []),
      '',
      `Raw results: \`${resultsDir}/results.jsonl\``,
    ].join('\n');
    changes.push(writeReport(REPORT, benchFrontmatter, fm, body, run.head));

    return {
      changes,
      result: benchResultLine(point, accepted),
      update: (state) => ({
        ...state,
        benches: [...state.benches, point],
        usage: result.records.reduce((sum, r) => addUsage(sum, r.usage), state.usage),
        cost_usd: state.cost_usd + result.records.reduce((sum, r) => sum + r.cost_usd, 0),
      }),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function comparisonText(comparison: Comparison): string {
  return renderComparison(comparison);
}

/** The previous bench's trials and the commit that recorded them (its skill is what it measured). */
async function previousBench(
  store: RunStore,
): Promise<{ records: TrialRecord[]; commit: string } | null> {
  const report = await readReport(store, REPORT, benchFrontmatter);
  const commit = await store.lastCommitTouching([REPORT]);
  if (report === null || commit === null) return null;
  const file = `${report.data.results_dir}/results.jsonl`;
  const text = await store.read(file);
  if (text === null) return null;
  return { records: parseResults(text, `${store.runDir}/${file}`), commit };
}

/** True when `path` was last changed by `commit` or an earlier commit. */
async function changedBefore(store: RunStore, path: string, commit: string): Promise<boolean> {
  const last = await store.lastCommitTouching([path]);
  return last === null || (await store.isAncestor(last, commit));
}

/** improved-skill/ as it was at `commit` (deleted when it did not exist yet). */
async function restoreSkill(store: RunStore, commit: string): Promise<FileChange[]> {
  const changes: FileChange[] = [{ path: RUN_FILES.improved, delete: true }];
  for (const path of await store.list(RUN_FILES.improved, commit)) {
    const content = await store.readBytes(path, commit);
    if (content !== null) changes.push({ path, content });
  }
  return changes;
}

const percent = (rate: number | null) => (rate === null ? null : Math.round(rate * 1000) / 10);

/** Pass rates in percent over the skill's graded trials (all models pooled). */
export function benchPoint(
  records: readonly TrialRecord[],
  iteration: number,
  skill: BenchPoint['skill'],
  resultsDir: string,
  accepted: boolean | null,
  earlier: readonly BenchPoint[],
): BenchPoint {
  const withSkill = records.filter((r) => !r.baseline);
  const baseline = records.filter((r) => r.baseline);
  const cells = summarise(withSkill).cells.filter((c) => c.passRate !== null);
  const minProbe = cells.length === 0 ? null : Math.min(...cells.map((c) => c.passRate as number));
  const heldout = withSkill.filter((r) => r.heldout);
  return {
    iteration,
    skill,
    pass_rate: percent(pooled(withSkill).passRate),
    heldout_pass_rate: heldout.length === 0 ? null : percent(pooled(heldout).passRate),
    min_probe_pass_rate: percent(minProbe),
    baseline_pass_rate:
      baseline.length > 0
        ? percent(pooled(baseline).passRate)
        : (earlier.find((b) => b.baseline_pass_rate !== null)?.baseline_pass_rate ?? null),
    accepted,
    results_dir: resultsDir,
  };
}

function allPass(records: readonly TrialRecord[]): boolean {
  const graded = records.filter((r) => !r.baseline);
  return graded.length > 0 && graded.every((r) => r.status === 'pass');
}

function benchResultLine(point: BenchPoint, accepted: boolean | null): string {
  const fmt = (v: number | null) => (v === null ? 'n/a' : `${v}%`);
  const parts = [`${fmt(point.pass_rate)} pass`, `held-out ${fmt(point.heldout_pass_rate)}`];
  if (point.baseline_pass_rate !== null) parts.push(`baseline ${fmt(point.baseline_pass_rate)}`);
  if (accepted === true) parts.push('improvement accepted');
  if (accepted === false) parts.push('regression: previous skill kept');
  return parts.join(', ');
}
