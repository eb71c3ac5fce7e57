import { renderReport } from '../chain/report.js';
import type { ChainState } from '../chain/state.js';
import type { MatrixEntry } from './bench-matrix.js';

/** One run's result in this job, for the job summary and the check run. */
export interface RunReport {
  slug: string;
  branch: string;
  chainPr: number | null;
  status: ChainState['status'];
  message: string;
  state: ChainState;
  /** Step 06 of this run fanned out over the job matrix: one entry per shard job. */
  benchMatrix?: MatrixEntry[];
}

/** The job summary (markdown): a line per run, then each run's bench progression and chart. */
export function renderJobSummary(reports: readonly RunReport[]): string {
  const lines = [
    '## Skill Optimizer',
    '',
    '| run | chain PR | status | cost |',
    '| --- | --- | --- | --- |',
    ...reports.map(
      (r) =>
        `| \`${r.slug}\` | ${r.chainPr === null ? '—' : `#${r.chainPr}`} | ${r.status}${r.state.open_gate ? ` (gate \`${r.state.open_gate.id}\`)` : ''} | $${r.state.cost_usd.toFixed(4)} |`,
    ),
    '',
  ];
  for (const r of reports) {
    lines.push(
      renderReport(r.state, { outcome: r.message, review: null, skillName: r.slug })
        .replace(/^# /, '### ')
        .replace(/^## /gm, '#### '),
    );
  }
  return `${lines.join('\n')}\n`;
}
