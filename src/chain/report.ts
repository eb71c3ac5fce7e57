import { codeSpan, escapeMarkdown } from '../text/escape-markdown.js';
import { keptRates } from './next.js';
import type { BenchPoint, ChainState } from './state.js';

/**
 * `report.md` (docs/chain.md): what every bench measured (trial counts, intervals, verdict and why),
 * the skill against no skill, what was kept and discarded, findings, weaknesses, next steps, cost.
 * Every claim is the measurement's: nothing is called an improvement unless its verdict is. Text
 * from the run (outcome, reasons, names, the review) is escaped: the same markdown becomes the job
 * summary and the check run.
 */
export function renderReport(
  state: ChainState,
  opts: { outcome: string; review: string | null; skillName: string },
): string {
  const benches = state.benches;
  const conf = `${Math.round((benches.at(-1)?.confidence ?? 0.95) * 1000) / 10}%`;
  const first = benches[0];
  const keptNow = benches.findLast((b) => b.kept);
  const improvedCount = benches.filter((b) => b.verdict === 'improved' && b.kept).length;
  const lines = [
    `# Skill Optimizer report: ${codeSpan(opts.skillName)}`,
    '',
    `**Outcome:** ${escapeMarkdown(opts.outcome)}`,
    '',
    ...headline(first, keptNow, improvedCount, conf),
    '',
    '## Benches',
    '',
    `Rates pool the graded trials with the skill (errored trials are counted apart, never as passes or fails); brackets hold the two-sided ${conf} Wilson interval. Each candidate is compared with the bench of the skill kept at the time, never with a discarded candidate.`,
    '',
    '| bench | skill | graded | errored | pass rate | held-out | per-probe minimum | no skill | verdict | kept |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...benches.map(benchRow),
    '',
  ];
  for (const b of benches.filter((x) => x.verdict_reason !== null)) {
    lines.push(
      `- Bench ${b.iteration}: ${b.verdict ?? 'no verdict'} — ${escapeMarkdown(b.verdict_reason ?? '')}`,
    );
  }
  if (benches.some((b) => b.verdict_reason !== null)) lines.push('');
  if (benches.length > 0) lines.push(...chart(benches), '');

  lines.push('## Skill vs no skill', '', ...baselineLines(keptNow), '');
  lines.push('## Discarded candidates', '');
  lines.push(
    ...(state.discarded.length === 0
      ? ['None.']
      : state.discarded.map(
          (d) =>
            `- Bench ${d.iteration}${d.weaknesses.length > 0 ? ` (addressing ${d.weaknesses.map(codeSpan).join(', ')})` : ''}: ${escapeMarkdown(d.reason)}`,
        )),
    '',
    '## Duct-tape and held-out findings',
    '',
    ...(state.findings.length === 0
      ? ['None: no probe literal was found in the analyses, proposals or verdicts.']
      : state.findings.map((f) => `- ${escapeMarkdown(f)}`)),
    '',
    ...weaknessLines(state),
    '## Next steps',
    '',
    ...nextSteps(state, keptNow, improvedCount),
    '',
    '## Decisions at gates',
    '',
  );
  lines.push(
    ...(state.decisions.length === 0
      ? ['None.']
      : [
          '| gate | answer | by | at |',
          '| --- | --- | --- | --- |',
          ...state.decisions.map(
            (d) =>
              `| ${d.gate} | ${escapeMarkdown(d.answer)} | ${escapeMarkdown(d.by)} | ${d.at} |`,
          ),
        ]),
    '',
    '## Tokens and cost',
    '',
    '| input | cache write | cache read | output | cost |',
    '| --- | --- | --- | --- | --- |',
    `| ${state.usage.input_tokens.toLocaleString('en-US')} | ${state.usage.cache_creation_input_tokens.toLocaleString('en-US')} | ${state.usage.cache_read_input_tokens.toLocaleString('en-US')} | ${state.usage.output_tokens.toLocaleString('en-US')} | $${state.cost_usd.toFixed(4)} |`,
    '',
  );
  if (opts.review)
    lines.push('## Why the loop stopped short', '', escapeMarkdown(opts.review.trim()), '');
  return `${lines.join('\n')}\n`;
}

const pct = (v: number | null) => (v === null ? '—' : `${v}%`);
const withInterval = (v: number | null, i: [number, number] | null) =>
  v === null ? '—' : `${v}%${i ? ` [${i[0]}–${i[1]}]` : ''}`;

function headline(
  first: BenchPoint | undefined,
  kept: BenchPoint | undefined,
  improved: number,
  conf: string,
): string[] {
  if (first === undefined || kept === undefined) return ['No bench ran.'];
  if (improved === 0) {
    return [
      `No change was shown to improve the skill at ${conf} confidence: the skill kept is the one benched first, at ${withInterval(first.pass_rate, first.pass_rate_interval)} over ${first.graded} graded trials.`,
    ];
  }
  return [
    `Kept ${improved} improvement${improved === 1 ? '' : 's'} with the verdict *improved* at ${conf} confidence: pass rate ${withInterval(first.pass_rate, first.pass_rate_interval)} (${first.graded} graded) → ${withInterval(kept.pass_rate, kept.pass_rate_interval)} (${kept.graded} graded); held-out ${withInterval(first.heldout_pass_rate, first.heldout_interval)} → ${withInterval(kept.heldout_pass_rate, kept.heldout_interval)}.`,
  ];
}

function benchRow(b: BenchPoint): string {
  const kept = b.kept ? 'yes' : 'no (discarded)';
  return `| ${b.iteration} | ${codeSpan(b.skill)} | ${b.graded} | ${b.errored} | ${withInterval(b.pass_rate, b.pass_rate_interval)} | ${withInterval(b.heldout_pass_rate, b.heldout_interval)} | ${pct(b.min_probe_pass_rate)} | ${pct(b.baseline_pass_rate)} | ${b.verdict ?? '—'} | ${kept} |`;
}

/**
 * The progression as a Mermaid chart: the kept skill's pass rate is the main line; every bench's
 * own measurement is a bar; held-out rates are drawn only when every bench has one (a missing
 * value is never drawn as 0).
 */
function chart(benches: readonly BenchPoint[]): string[] {
  const labels = benches.map((b) => `"${b.iteration}"`).join(', ');
  const kept = keptRates(benches);
  const heldout = benches.map((b) => b.heldout_pass_rate);
  const allHeldout = heldout.every((v) => v !== null);
  const missing = benches.filter((b) => b.heldout_pass_rate === null).map((b) => b.iteration);
  return [
    '```mermaid',
    '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#d0d7de, #0969da, #bf3989"}}}}%%',
    'xychart-beta',
    '  title "Pass rate by bench (%)"',
    `  x-axis "bench" [${labels}]`,
    '  y-axis "pass rate (%)" 0 --> 100',
    `  bar [${benches.map((b) => b.pass_rate ?? 0).join(', ')}]`,
    `  line [${kept.join(', ')}]`,
    ...(allHeldout ? [`  line [${heldout.join(', ')}]`] : []),
    '```',
    '',
    'Legend: **blue line** — pass rate of the skill kept after each bench (the main result); grey bars — what each bench measured, discarded candidates included (no bar: 0%, or nothing graded — the table says which)' +
      (allHeldout
        ? '; **pink line** — held-out probes.'
        : `; held-out rates are not drawn because bench${missing.length === 1 ? '' : 'es'} ${missing.join(', ')} had none (see the table).`),
  ];
}

function baselineLines(kept: BenchPoint | undefined): string[] {
  if (kept === undefined || kept.beats_baseline === null) {
    return ['No no-skill baseline was measured.'];
  }
  const lines = [
    kept.beats_baseline
      ? `The kept skill (${pct(kept.pass_rate)}) beats the same agent without it (${pct(kept.baseline_pass_rate)}) beyond noise.`
      : `**The skill adds nothing measurable on these probes**: the kept skill (${pct(kept.pass_rate)}) is not better than the same agent without it (${pct(kept.baseline_pass_rate)}) beyond noise.`,
  ];
  if (kept.non_discriminating.length > 0) {
    lines.push(
      '',
      `Probes that pass without the skill at least as often as with it (they do not tell the skill apart): ${kept.non_discriminating.map(codeSpan).join(', ')}.`,
    );
  }
  return lines;
}

function weaknessLines(state: ChainState): string[] {
  const addressed = new Set(state.weaknesses_addressed);
  const last = state.analyses.at(-1)?.weaknesses ?? [];
  const earlier = new Set(state.analyses.slice(0, -1).flatMap((a) => a.weaknesses));
  const open = last.filter((w) => !addressed.has(w));
  const fresh = state.analyses.length > 1 ? last.filter((w) => !earlier.has(w)) : [];
  const list = (ws: readonly string[]) =>
    ws.length === 0 ? ['None.'] : ws.map((w) => `- ${codeSpan(w)}`);
  return [
    '## Weaknesses',
    '',
    '**Resolved** (addressed by a kept improvement):',
    '',
    ...list([...addressed]),
    '',
    '**Still open** (named by the last analysis, not addressed by a kept change):',
    '',
    ...list(open),
    '',
    '**New** (first named by the last analysis):',
    '',
    ...list(fresh),
    '',
  ];
}

function nextSteps(state: ChainState, kept: BenchPoint | undefined, improved: number): string[] {
  const steps: string[] = [];
  if (kept === undefined) return ['- Run the bench (step 6) to measure the skill.'];
  if (kept.beats_baseline === false) {
    steps.push(
      '- Make the probes discriminate: those that pass without the skill cannot show what the skill adds; design harder probes (`rerun design-tests`).',
    );
  }
  if (improved === 0 && state.discarded.length > 0) {
    steps.push(
      '- The candidates were not shown better: more trials (`trials`, `max_extra_trials`) narrow the intervals, or a different weakness may be the one that matters.',
    );
  }
  if (kept.heldout_pass_rate === null) {
    steps.push(
      '- Hold out some probes (`heldout_share`): without them no change can be called an improvement.',
    );
  }
  if (improved > 0)
    steps.push('- Review the kept change and its evidence, then publish or merge it.');
  if (steps.length === 0) steps.push('- Nothing pressing: the measurements above are the result.');
  return steps;
}
