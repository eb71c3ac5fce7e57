import { codeSpan, escapeMarkdown } from '../text/escape-markdown.js';
import { keptRates } from './next.js';
import type { ChainState } from './state.js';

/**
 * `report.md`: progression table and chart, weaknesses, decisions, cost. Text from
 * the run (outcome, weaknesses, the review) is escaped: the same markdown becomes the job summary.
 */
export function renderReport(
  state: ChainState,
  opts: { outcome: string; review: string | null; skillName: string },
): string {
  const pct = (v: number | null) => (v === null ? '—' : `${v}%`);
  const rows = state.benches.map(
    (b) =>
      `| ${b.iteration} | \`${b.skill}\` | ${pct(b.pass_rate)} | ${pct(b.heldout_pass_rate)} | ${pct(b.min_probe_pass_rate)} | ${pct(b.baseline_pass_rate)} | ${b.accepted === null ? '—' : b.accepted ? 'accepted' : 'regression, kept previous'} |`,
  );
  const first = state.benches[0];
  const last = state.benches.at(-1);
  // A discarded improvement's bench measured a skill that was not kept.
  const kept = keptRates(state.benches).at(-1) ?? null;
  const lines = [
    `# Skill Optimizer report: ${codeSpan(opts.skillName)}`,
    '',
    `**Outcome:** ${escapeMarkdown(opts.outcome)}`,
    '',
    first && last
      ? `Pass rate went from ${pct(first.pass_rate)} (first bench) to ${pct(kept)} (the skill kept after the last bench); without the skill it was ${pct(first.baseline_pass_rate)}.`
      : 'No bench ran.',
    '',
    '## Progression',
    '',
    '| iteration | skill | pass rate | held-out | per-probe minimum | baseline (no skill) | improvement |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ];
  if (state.benches.length > 0) {
    const labels = state.benches.map((b) => `"${b.iteration}"`).join(', ');
    const series = (pick: (b: ChainState['benches'][number]) => number | null) =>
      state.benches.map((b) => pick(b) ?? 0).join(', ');
    lines.push(
      '```mermaid',
      'xychart-beta',
      '  title "Pass rate by iteration (%)"',
      `  x-axis [${labels}]`,
      '  y-axis "pass rate" 0 --> 100',
      `  line [${series((b) => b.pass_rate)}]`,
      `  line [${series((b) => b.heldout_pass_rate)}]`,
      '```',
      '',
      'Lines: overall pass rate, then held-out probes.',
      '',
    );
  }
  lines.push('## Weaknesses addressed', '');
  lines.push(
    ...(state.weaknesses_addressed.length === 0
      ? ['None yet.']
      : state.weaknesses_addressed.map((w) => `- ${codeSpan(w)}`)),
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
          ...state.decisions.map((d) => `| ${d.gate} | ${d.answer} | ${d.by} | ${d.at} |`),
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
