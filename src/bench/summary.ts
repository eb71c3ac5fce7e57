/**
 * The bench summary in markdown (`06-bench-summary.md`, docs/decision-rule.md): run facts, per model a
 * probe table with intervals, the mean and the weakest probe, skill vs no skill, the failed and
 * error trials, and optionally a before/after comparison. Text that came from a model or a
 * grader (reasons, errors) is cut to one line and escaped so it cannot shape the markdown.
 */
import { type Comparison, type Difference, difference } from './compare.js';
import { formatPercent, formatPoints } from './percent.js';
import type { ExcludedProbeEntry, ResultsMeta } from './results.js';
import { type CellStats, type ModelStats, pooled, summarise } from './stats.js';
import type { IsolationLevel, RunnerName, TrialRecord } from './types.js';

export interface SummaryInput {
  title: string;
  records: readonly TrialRecord[];
  meta?: Partial<ResultsMeta>;
  /** Wins over `meta.runner` and the records. */
  runner?: RunnerName;
  /** Wins over `meta.isolation` and the records. */
  isolation?: IsolationLevel | null;
  /** Wins over `meta.excluded`. */
  excluded?: readonly ExcludedProbeEntry[];
  comparison?: Comparison;
  /** The k of pass@k and pass^k (default 1). */
  k?: number;
}

/** Most failed/error trials listed; the rest are counted. */
const MAX_LISTED_TRIALS = 100;
const MAX_REASON_CHARS = 200;

// Zero-width and bidirectional controls: invisible in a rendered summary, so never let them through.
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/** Untrusted text as one escaped markdown line. */
export function inlineText(text: string, max = MAX_REASON_CHARS): string {
  const line = (
    text
      .replace(INVISIBLE, '')
      .split(/\r?\n/)
      .find((l) => l.trim() !== '') ?? ''
  ).trim();
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return cut.replace(/[\\`*_[\]<>|#~!]/g, (c) => `\\${c}`);
}

/** An id (probe, model) as inline code; in a table cell `|` is escaped as GFM requires. */
export function code(text: string, inTable = true): string {
  const plain = text.replace(INVISIBLE, '').replace(/[`\r\n]/g, "'");
  return `\`${inTable ? plain.replaceAll('|', '\\|') : plain}\``;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const yesNo = (b: boolean) => (b ? 'yes' : 'no');
/** An estimated probability; `–` when it cannot be estimated (fewer graded trials than k). */
const chance = (p: number | null) => (p === null ? '–' : formatPercent(p));
const score = (s: number | null) => (s === null ? '–' : s.toFixed(2));
const rateWithCount = (c: CellStats) =>
  c.n === 0 ? '–' : `${formatPercent(c.passRate)} (${c.passes}/${c.n})`;
const interval = (c: { n: number; interval: { low: number; high: number } }) =>
  c.n === 0 ? '–' : `${formatPercent(c.interval.low)}–${formatPercent(c.interval.high)}`;
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

function isolationLine(levels: IsolationLevel[]): string {
  if (levels.length === 0) return '- Isolation: unknown (no trials ran)';
  if (levels.includes('process')) {
    const some = levels.length > 1 ? 'some trials ran' : 'trials ran';
    return `- Isolation: **process — the weaker level**: ${some} without bubblewrap, as ordinary child processes with a scrubbed environment and path checks; they were not cut off from the network or from other processes of the same user`;
  }
  return '- Isolation: bubblewrap (private namespaces, no network, only the trial folder writable)';
}

function header(input: SummaryInput, records: readonly TrialRecord[]): string[] {
  const { totals, isolation } = summarise(records);
  const meta = input.meta ?? {};
  const runner = input.runner ?? meta.runner ?? records[0]?.runner;
  const levels = input.isolation
    ? [input.isolation]
    : meta.isolation
      ? [meta.isolation]
      : isolation;
  const models = meta.models ?? [...new Set(records.map((r) => r.model))];
  const u = totals.usage;
  const lines = [
    `# ${inlineText(input.title)}`,
    '',
    ...(levels.includes('process')
      ? [
          '> **Warning: weaker isolation.** Trials and graders ran as plain processes, not in bubblewrap: they could reach the network and read files and same-user processes outside the trial folder.',
          '',
        ]
      : []),
    `- Runner: ${runner === undefined ? 'unknown' : code(runner, false)}`,
    `- Models: ${models.map((m) => code(m, false)).join(', ') || 'none'}`,
    isolationLine(levels),
    `- Trials: ${totals.trials} (${totals.errors} ${totals.errors === 1 ? 'error' : 'errors'}, counted neither as pass nor as fail)${meta.trials ? ` — ${meta.trials} per probe and model` : ''}`,
    `- Tokens: ${u.input_tokens.toLocaleString('en-US')} input · ${u.output_tokens.toLocaleString('en-US')} output · ${u.cache_read_input_tokens.toLocaleString('en-US')} cache read · ${u.cache_creation_input_tokens.toLocaleString('en-US')} cache write`,
    `- Cost: $${totals.cost_usd.toFixed(4)}`,
  ];
  if (meta.shard) lines.push(`- Shard: ${meta.shard} (this shard's trials only)`);
  const excluded = input.excluded ?? meta.excluded ?? [];
  for (const e of excluded) {
    lines.push(
      `- Excluded probe ${code(e.probe, false)}: its grader failed the smoke check — ${inlineText(e.reasons.join('; '))}`,
    );
  }
  return lines;
}

function modelSection(
  model: string,
  cells: CellStats[],
  models: ModelStats[],
  records: readonly TrialRecord[],
  k: number,
) {
  const withSkill = cells.filter((c) => c.model === model && !c.baseline);
  const baseline = new Map(
    cells.filter((c) => c.model === model && c.baseline).map((c) => [c.probe, c]),
  );
  const hasBaseline = baseline.size > 0;
  const hasTrigger = withSkill.some((c) => c.triggerRate !== null);
  const columns = [
    'probe',
    'held-out',
    'trials',
    'pass rate',
    '95% CI',
    'mean score',
    `pass@${k}`,
    `pass^${k}`,
    'errors',
  ];
  if (hasBaseline) columns.push('baseline pass rate');
  if (hasTrigger) columns.push('trigger rate');
  const lines = [`## Model ${code(model, false)}`, '', row(columns), row(columns.map(() => '---'))];
  const extra = (values: { baseline: string; trigger: string }) => [
    ...(hasBaseline ? [values.baseline] : []),
    ...(hasTrigger ? [values.trigger] : []),
  ];
  for (const c of withSkill) {
    const base = baseline.get(c.probe);
    lines.push(
      row([
        code(c.probe),
        yesNo(c.heldout),
        String(c.trials),
        rateWithCount(c),
        interval(c),
        score(c.meanScore),
        chance(c.passAtK),
        chance(c.passHatK),
        String(c.errors),
        ...extra({
          baseline: base ? rateWithCount(base) : '–',
          trigger: formatPercent(c.triggerRate),
        }),
      ]),
    );
  }
  const stats = models.find((m) => m.model === model && !m.baseline);
  const base = models.find((m) => m.model === model && m.baseline);
  const blank = (n: number) => Array.from({ length: n }, () => '');
  if (stats) {
    lines.push(
      row([
        '**mean**',
        '',
        String(stats.trials),
        formatPercent(stats.meanPassRate),
        ...blank(4),
        String(stats.errors),
        ...extra({
          baseline: formatPercent(base?.meanPassRate ?? null),
          trigger: formatPercent(stats.triggerRate),
        }),
      ]),
      row([
        '**minimum**',
        '',
        '',
        stats.minProbe
          ? `${formatPercent(stats.minProbe.passRate)} (${code(stats.minProbe.probe)})`
          : '–',
        ...blank(5),
        ...extra({
          baseline: base?.minProbe
            ? `${formatPercent(base.minProbe.passRate)} (${code(base.minProbe.probe)})`
            : '–',
          trigger: '',
        }),
      ]),
    );
  }
  lines.push('');
  if (stats?.heldout) {
    lines.push(
      `Held-out probes: ${formatPercent(stats.heldout.passRate)} (${stats.heldout.passes}/${stats.heldout.n}); other probes: ${formatPercent(stats.nonHeldout.passRate)} (${stats.nonHeldout.passes}/${stats.nonHeldout.n}).`,
      '',
    );
  }
  if (stats && base) {
    const mine = records.filter((r) => r.model === model);
    const diff = difference(
      pooled(mine.filter((r) => r.baseline)),
      pooled(mine.filter((r) => !r.baseline)),
    );
    lines.push(
      `Skill vs no skill: ${formatPercent(stats.meanPassRate)} with the skill, ${formatPercent(base.meanPassRate)} without (mean of probes); over all graded trials ${formatPercent(diff.after.passRate)} vs ${formatPercent(diff.before.passRate)}, ${formatPoints(diff.delta)}: ${verdictText(diff, 'the skill helps', 'the skill hurts')}.`,
      '',
    );
  }
  return lines;
}

function verdictText(diff: Difference, better: string, worse: string): string {
  if (diff.delta === null) return 'not enough graded trials to tell';
  if (diff.direction === 'better') return `${better} (beyond noise)`;
  if (diff.direction === 'worse') return `${worse} (beyond noise)`;
  return 'within noise';
}

function trialPointer(r: TrialRecord): string {
  const reason =
    r.status === 'error'
      ? (r.error ?? 'no error message')
      : r.grader === null
        ? `not graded: the agent stopped at its ${r.stop_reason} limit`
        : (r.grader.reasons.find((x) => x.trim() !== '') ?? 'the grader gave no reason');
  const who = `${code(r.probe, false)} · ${code(r.model, false)} · trial ${r.trial}${r.baseline ? ' · no skill' : ''}`;
  return `- ${who} · **${r.status}** (${r.stop_reason}): ${inlineText(reason)}`;
}

function failedTrials(records: readonly TrialRecord[]): string[] {
  const bad = records
    .filter((r) => r.status !== 'pass')
    .sort(
      (a, b) =>
        byText(a.model, b.model) ||
        Number(a.baseline) - Number(b.baseline) ||
        byText(a.probe, b.probe) ||
        a.trial - b.trial,
    );
  if (bad.length === 0) return ['## Failed and error trials', '', 'None: every trial passed.', ''];
  const lines = [
    '## Failed and error trials',
    '',
    ...bad.slice(0, MAX_LISTED_TRIALS).map(trialPointer),
  ];
  if (bad.length > MAX_LISTED_TRIALS)
    lines.push(`- … and ${bad.length - MAX_LISTED_TRIALS} more (see results.jsonl)`);
  lines.push('');
  return lines;
}

const differenceCells = (d: Difference) => [
  `${formatPercent(d.before.passRate)} (${d.before.passes}/${d.before.n})`,
  `${formatPercent(d.after.passRate)} (${d.after.passes}/${d.after.n})`,
  formatPoints(d.delta),
  d.delta === null ? '–' : `${formatPoints(d.interval.low)} to ${formatPoints(d.interval.high)}`,
  d.direction,
];

const OUTCOME_TEXT: Readonly<Record<Comparison['outcome'], string>> = {
  improved: '**Verdict: improved** — the candidate is kept.',
  inconclusive:
    '**Verdict: inconclusive** — not shown better, not shown worse; the kept skill stays.',
  rejected: '**Verdict: rejected** — the candidate is worse beyond noise; the kept skill stays.',
};

/** The before/after section: per probe, overall, held-out, minimum, and the verdict with its reasons. */
export function renderComparison(c: Comparison): string {
  const pct = Math.round(c.confidence * 1000) / 10;
  const columns = [
    'model',
    'probe',
    'held-out',
    'before',
    'after',
    'difference',
    'interval',
    'reads as',
  ];
  const lines = [
    '## Before / after (kept skill → candidate)',
    '',
    `Confidence ${pct}%. Per probe and for the minimum, the interval is the one-sided ${pct}% bound used to catch a regression; for all probes and the held-out pool it is the two-sided interval of the improvement claim${c.looks > 1 ? ` (its error rate split over ${c.looks} planned looks)` : ''}. A difference whose interval includes 0 is noise.`,
    '',
    row(columns),
    row(columns.map(() => '---')),
    ...c.perProbe.map((p) =>
      row([code(p.model), code(p.probe), yesNo(p.heldout), ...differenceCells(p)]),
    ),
    row(['**all probes**', '', '', ...differenceCells(c.overall)]),
  ];
  if (c.heldout) lines.push(row(['**held-out probes**', '', 'yes', ...differenceCells(c.heldout)]));
  if (c.minimum) {
    lines.push(
      row([
        '**per-probe minimum**',
        `${code(c.minimum.beforeProbe)} → ${code(c.minimum.afterProbe)}`,
        '',
        ...differenceCells(c.minimum),
      ]),
    );
  }
  lines.push(
    '',
    OUTCOME_TEXT[c.outcome],
    '',
    ...c.reasons.map((r) => `- ${inlineText(r, 500)}`),
    '',
  );
  return lines.join('\n');
}

/** The whole bench summary as markdown. */
export function renderSummary(input: SummaryInput): string {
  const { records } = input;
  const k = input.k ?? 1;
  const { cells, models } = summarise(records, k);
  const names = [...new Set(models.map((m) => m.model))];
  const lines = [...header(input, records), ''];
  for (const model of names) lines.push(...modelSection(model, cells, models, records, k));
  lines.push(...failedTrials(records));
  if (input.comparison) lines.push(renderComparison(input.comparison));
  return `${lines.join('\n').trimEnd()}\n`;
}
