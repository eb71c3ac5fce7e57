import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  type BaselineComparison,
  benchValidity,
  type Comparison,
  compareResults,
  compareWithBaseline,
  type DecisionRule,
  intervalText,
} from '../../bench/compare.js';
import { formatPercent } from '../../bench/percent.js';
import { parseResults, RESULTS_FILE } from '../../bench/results.js';
import type { TrialKey } from '../../bench/shard.js';
import { pooled, summarise, twoSidedZ, wilson } from '../../bench/stats.js';
import { renderComparison, renderSummary } from '../../bench/summary.js';
import type { TrialRecord } from '../../bench/types.js';
import { addUsage } from '../../model/usage.js';
import type { FileChange, RunStore } from '../../store/port.js';
import { readTree } from '../../store/read-tree.js';
import { benchProgress } from '../bench-progress.js';
import { trialReserver } from '../budget.js';
import { type CandidateScan, scanCandidate } from '../candidate-scan.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import { currentSkillCopy, requireReport, writeReport } from '../inputs.js';
import { type ChainDeps, type StepOutcome, StepRefusedError, type StepRun } from '../ports.js';
import { describeFinding } from '../probe-literals.js';
import { type BenchFrontmatter, benchFrontmatter, testsVerdictFrontmatter } from '../reports.js';
import type { BenchPoint, ChainState } from '../state.js';

const REPORT = STEPS.bench.report;
/** The kept skill's extra trials measured during a candidate's bench (adaptive trials). */
const KEPT_EXTRA_FILE = 'kept-extra.jsonl';

/**
 * Step 6 (operator only): bench the current skill against the approved suite — with the no-skill
 * baseline on the first bench. A changed skill is a candidate: it is compared with the bench of
 * the skill that is kept (never with a discarded candidate) and kept only when the verdict is
 * *improved* (docs/decision-rule.md); otherwise the kept skill is restored. Errored trials are
 * retried once; a bench that is still invalid, or cut short by the budget, gives no verdict.
 */
export async function runBenchStep(run: StepRun): Promise<StepOutcome> {
  const { store, bench, config } = run.deps;
  const verdict05 = await requireReport(
    store,
    STEPS['validate-tests'].report,
    testsVerdictFrontmatter,
    '5 (validate-tests)',
  );
  if (!verdict05.data.all_probes_approved) {
    throw new StepRefusedError(
      'step 6 refuses to bench: 05-tests-verdict.md says not every probe is approved (all_probes_approved: false)',
    );
  }
  const copy = await currentSkillCopy(store);
  const first = run.state.benches.length === 0;
  const last = first ? null : await lastBench(store);
  const kept = first ? null : await keptBench(store, run.state);
  // Only a skill changed since the last bench is a candidate to keep or discard; a re-bench of
  // the same skill (harder probes, a rerun) is a new measurement of the kept skill.
  const candidate =
    kept !== null &&
    last !== null &&
    copy === 'improved-skill' &&
    !(await changedBefore(store, RUN_FILES.improved, last.commit));

  const reserver = trialReserver({
    budgetUsd: config.budget_usd,
    spentBefore: run.state.cost_usd,
    estimate: (model) => bench.estimateTrialCost(model),
  });
  const progress = benchProgress(run.state.cost_usd, run.onBenchProgress);
  const scratch = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-'));
  try {
    const runTrials = async (
      skillDir: string,
      extra: { keys?: TrialKey[]; baseline?: boolean },
    ) => {
      const counted = progress.call();
      return bench.run({
        suitePath: store.absolutePath(RUN_FILES.suite),
        skillDir,
        baseline: extra.baseline ?? false,
        outRoot: scratch,
        reserve: (model) => reserver.reserve(model),
        onTrial: (record, count) => {
          reserver.settle(record.cost_usd);
          counted(record, count);
        },
        ...(extra.keys ? { keys: extra.keys } : {}),
        ...(run.signal ? { signal: run.signal } : {}),
      });
    };
    const skillDir = store.absolutePath(copy);
    const result = await runTrials(skillDir, { baseline: first });
    let records = result.records;
    let skipped = result.skipped;
    let retried = 0;

    // Errored trials are retried once; their retry replaces them.
    const errored = records.filter((r) => r.status === 'error');
    if (errored.length > 0 && skipped.length === 0) {
      const retry = await runTrials(skillDir, { keys: errored.map(keyOf) });
      retried = retry.records.length;
      records = replaceByKey(records, retry.records);
      skipped = [...skipped, ...retry.skipped];
    }

    const rule: DecisionRule = { confidence: config.confidence, looks: plannedLooks(config) };
    const minGraded = Math.max(1, Math.ceil(config.trials * (1 - config.max_error_rate)));
    let comparison =
      candidate && kept !== null ? compareResults(kept.records, records, rule) : null;
    let keptExtra: TrialRecord[] = [];
    let extraTrials = 0;

    // Adaptive trials: more evidence on the deciding probes, both sides, at most the planned looks.
    const valid = () =>
      skipped.length === 0 &&
      benchValidity(records, { maxErrorRate: config.max_error_rate, minGraded }).valid;
    if (comparison !== null && kept !== null && valid()) {
      let keptSkillDir: string | null = null;
      for (let look = 2; look <= rule.looks; look++) {
        if (comparison.outcome !== 'inconclusive' || !comparison.favourable) break;
        const deciding = decidingCells(comparison);
        if (deciding.length === 0) break;
        keptSkillDir ??= await materialiseSkill(
          store,
          last?.commit ?? null,
          join(scratch, 'kept-skill'),
        );
        const round = config.trials;
        const more = (existing: readonly TrialRecord[]) => extraKeys(existing, deciding, round);
        const after = await runTrials(skillDir, { keys: more(records) });
        const before = await runTrials(keptSkillDir, {
          keys: more([...kept.records, ...keptExtra]),
        });
        records = [...records, ...after.records];
        keptExtra = [...keptExtra, ...before.records];
        extraTrials += after.records.length;
        skipped = [...skipped, ...after.skipped, ...before.skipped];
        if (skipped.length > 0) break;
        comparison = compareResults([...kept.records, ...keptExtra], records, rule);
      }
    }

    const validity = benchValidity(records, { maxErrorRate: config.max_error_rate, minGraded });
    const resultsDir = await freshResultsDir(store, basename(result.dir));
    await writeFile(join(result.dir, RESULTS_FILE), jsonl(sortRecords(records)));
    if (keptExtra.length > 0) await writeFile(join(result.dir, KEPT_EXTRA_FILE), jsonl(keptExtra));
    await rm(join(result.dir, 'summary.md'), { force: true });
    const changes: FileChange[] = await readTree(result.dir, resultsDir);

    const stop = stopReason(skipped, records, validity.reasons, retried);
    if (stop !== null) comparison = null;
    // Before any acceptance: the candidate's reports and diff are scanned for probe literals.
    const scan = candidate ? await scanCandidate(store) : { heldout: [], ductTape: [] };
    const findings = [
      ...scan.heldout.map((f) => `held-out: ${describeFinding(f)}`),
      ...scan.ductTape.map((f) => `duct tape: ${describeFinding(f)}`),
    ];
    if (comparison !== null && findings.length > 0)
      comparison = blockedByFindings(comparison, scan);
    const accepted = comparison === null ? null : comparison.accepted;
    const discarded = candidate && accepted !== true;
    if (discarded && last !== null) changes.push(...(await restoreSkill(store, last.commit)));

    // The skill kept after this bench, and how it does against the same agent without a skill.
    const keptRecords = discarded && kept !== null ? kept.records : records;
    const baselineRecords = first ? records : await firstBaseline(store, run.state);
    const baseline =
      baselineRecords.length > 0
        ? compareWithBaseline(keptRecords, baselineRecords, config.confidence)
        : null;

    const point = benchPoint({
      records,
      iteration: run.state.benches.length,
      skill: copy,
      resultsDir,
      comparison,
      discarded,
      baseline,
      earlier: run.state.benches,
      confidence: config.confidence,
      extraTrials,
      stop,
    });
    const keptResultsDir = discarded && kept !== null ? kept.resultsDir : resultsDir;
    const fm: BenchFrontmatter = {
      iteration: point.iteration,
      skill: copy,
      results_dir: resultsDir,
      pass_rate: point.pass_rate,
      heldout_pass_rate: point.heldout_pass_rate,
      min_probe_pass_rate: point.min_probe_pass_rate,
      baseline_pass_rate: point.baseline_pass_rate,
      all_pass: !discarded && stop === null && allPass(records),
      accepted,
      verdict: point.verdict,
      kept_results_dir: keptResultsDir,
    };
    const body = [
      renderSummary({
        title: `Bench ${point.iteration}: ${copy}${candidate ? ' (candidate)' : ''}`,
        records,
        excluded: result.excluded,
        isolation: result.isolation,
        k: config.k,
      }),
      ...validityText(validity, retried, skipped.length),
      ...(comparison ? ['', renderComparison(comparison)] : []),
      ...(extraTrials > 0
        ? [
            `Adaptive trials: ${extraTrials} extra trials per side on the deciding probes (kept skill's in \`${resultsDir}/${KEPT_EXTRA_FILE}\`).`,
            '',
          ]
        : []),
      ...baselineText(baseline),
      ...(discarded
        ? [`The candidate was not kept: the skill benched in \`${keptResultsDir}\` stays.`, '']
        : []),
      `Raw results: \`${resultsDir}/${RESULTS_FILE}\``,
    ].join('\n');
    changes.push(writeReport(REPORT, benchFrontmatter, fm, body, run.head));

    return {
      changes,
      result: benchResultLine(point, stop),
      update: (state) =>
        charge(
          { ...keepOrDiscard(state, point, discarded), findings: [...state.findings, ...findings] },
          [...records, ...keptExtra],
        ),
      ...(stop !== null ? { finish: { status: 'stopped' as const, reason: stop } } : {}),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Adds the spend of the bench's trials to the state, in the step's own commit. */
function charge(state: ChainState, trials: readonly TrialRecord[]): ChainState {
  return {
    ...state,
    usage: trials.reduce((sum, r) => addUsage(sum, r.usage), state.usage),
    cost_usd: state.cost_usd + trials.reduce((sum, r) => sum + r.cost_usd, 0),
  };
}

/** Moves pending weaknesses to addressed when kept; records a discarded candidate otherwise. */
function keepOrDiscard(state: ChainState, point: BenchPoint, discarded: boolean): ChainState {
  const base: ChainState = { ...state, benches: [...state.benches, point] };
  if (point.accepted === true) {
    return {
      ...base,
      weaknesses_addressed: [
        ...new Set([...state.weaknesses_addressed, ...state.weaknesses_pending]),
      ],
      weaknesses_pending: [],
    };
  }
  if (discarded) {
    return {
      ...base,
      weaknesses_pending: [],
      discarded: [
        ...state.discarded,
        {
          iteration: point.iteration,
          weaknesses: state.weaknesses_pending,
          reason: point.verdict_reason ?? 'no verdict',
        },
      ],
    };
  }
  return base;
}

/** A candidate carrying probe literals is never an improvement, whatever its numbers say. */
function blockedByFindings(c: Comparison, scan: CandidateScan): Comparison {
  const reasons = [
    ...(scan.heldout.length > 0
      ? [
          `blocked: ${scan.heldout.length} held-out probe literal(s) in the analysis, proposal or verdict`,
        ]
      : []),
    ...(scan.ductTape.length > 0
      ? [`blocked: the diff adds ${scan.ductTape.length} visible-probe literal(s) (duct tape)`]
      : []),
  ];
  return { ...c, outcome: 'rejected', accepted: false, reasons: [...reasons, ...c.reasons] };
}

function stopReason(
  skipped: readonly TrialKey[],
  records: readonly TrialRecord[],
  invalid: readonly string[],
  retried: number,
): string | null {
  if (skipped.length > 0) {
    const ran = records.length;
    return `cost budget reached mid-bench: ${ran} trials ran and ${skipped.length} were not started, so this bench gives no verdict`;
  }
  if (invalid.length > 0) {
    return `bench invalid${retried > 0 ? ` after retrying ${retried} errored trials once` : ''}: ${invalid.join('; ')}`;
  }
  return null;
}

/** 1 + the extra rounds `max_extra_trials` allows, each round `trials` more per deciding probe. */
export function plannedLooks(
  config: Pick<ChainDeps['config'], 'max_extra_trials' | 'trials'>,
): number {
  return 1 + Math.floor(config.max_extra_trials / config.trials);
}

type Cell = { model: string; probe: string };

/** Held-out probes and probes whose estimate fell without being shown worse. */
function decidingCells(c: Comparison): Cell[] {
  const cells = new Map<string, Cell>();
  for (const p of [...c.perProbe.filter((x) => x.heldout), ...c.nearRegression]) {
    cells.set(JSON.stringify([p.model, p.probe]), { model: p.model, probe: p.probe });
  }
  return [...cells.values()];
}

/** `count` more trials of each cell, numbered after the trials it already has. */
function extraKeys(
  existing: readonly TrialRecord[],
  cells: readonly Cell[],
  count: number,
): TrialKey[] {
  return cells.flatMap((cell) => {
    const top = Math.max(
      0,
      ...existing
        .filter((r) => !r.baseline && r.model === cell.model && r.probe === cell.probe)
        .map((r) => r.trial),
    );
    return Array.from({ length: count }, (_, i) => ({
      ...cell,
      trial: top + i + 1,
      baseline: false,
    }));
  });
}

const keyOf = (r: TrialRecord): TrialKey => ({
  probe: r.probe,
  model: r.model,
  trial: r.trial,
  baseline: r.baseline,
});
const keyText = (r: TrialKey) => JSON.stringify([r.probe, r.model, r.trial, r.baseline]);

function replaceByKey(
  records: readonly TrialRecord[],
  retried: readonly TrialRecord[],
): TrialRecord[] {
  const byKey = new Map(retried.map((r) => [keyText(r), r]));
  return records.map((r) => byKey.get(keyText(r)) ?? r);
}

function sortRecords(records: readonly TrialRecord[]): TrialRecord[] {
  return [...records].sort(
    (a, b) =>
      Number(a.baseline) - Number(b.baseline) ||
      a.model.localeCompare(b.model) ||
      a.probe.localeCompare(b.probe) ||
      a.trial - b.trial,
  );
}

const jsonl = (records: readonly TrialRecord[]) =>
  records.map((r) => `${JSON.stringify(r)}\n`).join('');

function validityText(
  v: ReturnType<typeof benchValidity>,
  retried: number,
  skipped: number,
): string[] {
  const lines = [
    '',
    `Trials: ${v.trials - v.errors} graded, ${v.errors} errored${retried > 0 ? ` (after retrying ${retried} errored trials once)` : ''}${skipped > 0 ? `, ${skipped} not started (budget)` : ''}.`,
  ];
  if (!v.valid)
    lines.push(
      '',
      '**This bench is invalid and gives no verdict:**',
      ...v.reasons.map((r) => `- ${r}`),
    );
  lines.push('');
  return lines;
}

function baselineText(b: BaselineComparison | null): string[] {
  if (b === null) return [];
  const d = b.difference;
  const lines = [
    '## Kept skill vs no skill',
    '',
    `${formatPercent(d.after.passRate)} (${d.after.passes}/${d.after.n}) with the kept skill, ${formatPercent(d.before.passRate)} (${d.before.passes}/${d.before.n}) without; interval ${intervalText(d.interval)} at ${Math.round(b.confidence * 1000) / 10}%.`,
    '',
    b.beats
      ? 'The skill beats the no-skill baseline beyond noise.'
      : '**The skill adds nothing measurable on these probes**: it is not better than the same agent without it beyond noise.',
  ];
  if (b.nonDiscriminating.length > 0) {
    lines.push(
      '',
      `Probes that pass without the skill at least as often as with it: ${b.nonDiscriminating.map((p) => `\`${p}\``).join(', ')}.`,
    );
  }
  lines.push('');
  return lines;
}

/**
 * `06-bench-results/<timestamp>` not yet used on the branch (`-2`, `-3`, ... when taken): two
 * benches within one second must not overwrite the kept skill's results.
 */
async function freshResultsDir(store: RunStore, name: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const dir = `${RUN_FILES.benchResults}/${attempt === 1 ? name : `${name}-${attempt}`}`;
    if ((await store.list(dir)).length === 0) return dir;
  }
}

/** The last bench's commit (its tree holds the skill that was kept after it). */
async function lastBench(store: RunStore): Promise<{ commit: string } | null> {
  const commit = await store.lastCommitTouching([REPORT]);
  return commit === null ? null : { commit };
}

/** The records of the bench that measured the skill kept now. */
async function keptBench(
  store: RunStore,
  state: ChainState,
): Promise<{ records: TrialRecord[]; resultsDir: string } | null> {
  const point = state.benches.findLast((b) => b.kept);
  if (point === undefined) return null;
  const records = await readRecords(store, point.results_dir);
  return records === null ? null : { records, resultsDir: point.results_dir };
}

/** The no-skill trials of the first bench. */
async function firstBaseline(store: RunStore, state: ChainState): Promise<TrialRecord[]> {
  const first = state.benches[0];
  if (first === undefined) return [];
  return ((await readRecords(store, first.results_dir)) ?? []).filter((r) => r.baseline);
}

async function readRecords(store: RunStore, resultsDir: string): Promise<TrialRecord[] | null> {
  const file = `${resultsDir}/${RESULTS_FILE}`;
  const text = await store.read(file);
  return text === null ? null : parseResults(text, `${store.runDir}/${file}`);
}

/** True when `path` was last changed by `commit` or an earlier commit. */
async function changedBefore(store: RunStore, path: string, commit: string): Promise<boolean> {
  const last = await store.lastCommitTouching([path]);
  return last === null || (await store.isAncestor(last, commit));
}

/** The skill kept at `commit` (improved-skill/ if it existed there, else vendored-skill/), on disk. */
async function materialiseSkill(
  store: RunStore,
  commit: string | null,
  into: string,
): Promise<string> {
  const at = commit ?? undefined;
  const improved = await store.list(RUN_FILES.improved, at);
  const folder = improved.length > 0 ? RUN_FILES.improved : RUN_FILES.vendored;
  const paths = improved.length > 0 ? improved : await store.list(RUN_FILES.vendored, at);
  for (const path of paths) {
    const content = await store.readBytes(path, at);
    if (content === null) continue;
    const target = join(into, path.slice(folder.length + 1));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return into;
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
const percentPair = (i: { low: number; high: number } | null): [number, number] | null =>
  i === null ? null : [percent(i.low) as number, percent(i.high) as number];

/** One bench in the run's progression: rates with intervals, trial counts, verdict, baseline. */
export function benchPoint(input: {
  records: readonly TrialRecord[];
  iteration: number;
  skill: BenchPoint['skill'];
  resultsDir: string;
  comparison: Comparison | null;
  discarded: boolean;
  baseline: BaselineComparison | null;
  earlier: readonly BenchPoint[];
  confidence: number;
  extraTrials: number;
  stop: string | null;
}): BenchPoint {
  const { records, comparison } = input;
  const z = twoSidedZ(input.confidence);
  const withSkill = records.filter((r) => !r.baseline);
  const baseline = records.filter((r) => r.baseline);
  const cells = summarise(withSkill).cells.filter((c) => c.passRate !== null);
  const minProbe = cells.length === 0 ? null : Math.min(...cells.map((c) => c.passRate as number));
  const all = pooled(withSkill);
  const heldout = pooled(withSkill.filter((r) => r.heldout));
  const hasHeldout = withSkill.some((r) => r.heldout);
  return {
    iteration: input.iteration,
    skill: input.skill,
    pass_rate: percent(all.passRate),
    heldout_pass_rate: hasHeldout ? percent(heldout.passRate) : null,
    min_probe_pass_rate: percent(minProbe),
    baseline_pass_rate:
      baseline.length > 0
        ? percent(pooled(baseline).passRate)
        : (input.earlier.find((b) => b.baseline_pass_rate !== null)?.baseline_pass_rate ?? null),
    accepted: comparison === null ? (input.discarded ? false : null) : comparison.accepted,
    results_dir: input.resultsDir,
    verdict: comparison?.outcome ?? null,
    verdict_reason: input.stop ?? (comparison ? comparison.reasons.join('; ') : null),
    kept: !input.discarded,
    graded: all.n,
    errored: withSkill.filter((r) => r.status === 'error').length,
    pass_rate_interval: all.n > 0 ? percentPair(wilson(all.passes, all.n, z)) : null,
    heldout_interval:
      hasHeldout && heldout.n > 0 ? percentPair(wilson(heldout.passes, heldout.n, z)) : null,
    heldout_graded: heldout.n,
    beats_baseline: input.baseline?.beats ?? null,
    non_discriminating: input.baseline?.nonDiscriminating ?? [],
    confidence: input.confidence,
    extra_trials: input.extraTrials,
  };
}

function allPass(records: readonly TrialRecord[]): boolean {
  const graded = records.filter((r) => !r.baseline);
  return graded.length > 0 && graded.every((r) => r.status === 'pass');
}

function benchResultLine(point: BenchPoint, stop: string | null): string {
  const fmt = (v: number | null) => (v === null ? 'n/a' : `${v}%`);
  const parts = [
    `${fmt(point.pass_rate)} pass (${point.graded} graded, ${point.errored} errors)`,
    `held-out ${fmt(point.heldout_pass_rate)}`,
  ];
  if (point.baseline_pass_rate !== null) parts.push(`baseline ${fmt(point.baseline_pass_rate)}`);
  if (stop !== null) parts.push('no verdict');
  else if (point.verdict === 'improved') parts.push('verdict improved: candidate kept');
  else if (point.verdict !== null) parts.push(`verdict ${point.verdict}: kept skill stays`);
  return parts.join(', ');
}
