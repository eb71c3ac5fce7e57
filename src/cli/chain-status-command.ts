import { join } from 'node:path';
import { STEP_IDS, STEPS } from '../chain/catalog.js';
import { loadState } from '../chain/driver.js';
import { STEP_INPUTS } from '../chain/next.js';
import { printGate } from './chain-gate-printer.js';
import { withRun } from './chain-run-lookup.js';
import type { CliIO } from './io.js';

/** `status`: where the run stands, what is stale, cost so far. */
export async function statusCommand(opts: { skill?: string }, io: CliIO): Promise<number> {
  return withRun(opts, io, async ({ store, skillPath }) => {
    const state = await loadState({ store });
    const lines = [
      `run '${state.slug}' (${skillPath}) on branch ${store.branch}`,
      `status: ${state.status}${state.stop_reason ? ` — ${state.stop_reason}` : ''}${state.autopilot ? ' (autopilot)' : ''}`,
      `files: ${join(store.worktreeDir, store.runDir)}`,
      '',
      'steps:',
    ];
    for (const id of STEP_IDS) {
      const report = STEPS[id].report;
      const exists = await store.exists(report);
      const stale = exists && (await store.isStale([report], [...STEP_INPUTS[id]]));
      const pending = (state.directives[id] ?? []).length;
      lines.push(
        `  ${String(STEPS[id].number).padStart(2, '0')} ${id.padEnd(15)} ${exists ? (stale ? 'stale' : 'done') : 'pending'}${pending ? ` (${pending} directives pending)` : ''}`,
      );
    }
    if (state.benches.length > 0) {
      lines.push('', 'benches:');
      for (const b of state.benches) {
        lines.push(
          `  ${b.iteration}: ${b.pass_rate ?? '—'}% (held-out ${b.heldout_pass_rate ?? '—'}%, baseline ${b.baseline_pass_rate ?? '—'}%)`,
        );
      }
    }
    lines.push(
      '',
      `cost so far: $${state.cost_usd.toFixed(4)} (${state.usage.input_tokens + state.usage.cache_creation_input_tokens + state.usage.cache_read_input_tokens} input tokens, ${state.usage.output_tokens} output)`,
    );
    if (state.last_error)
      lines.push(`last error (${state.last_error.step}): ${state.last_error.message}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    if (state.open_gate) printGate(state, skillPath, io);
    return 0;
  });
}
