import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseState } from '../../src/chain/state.js';
import {
  type CliRun,
  cli,
  commitLabels,
  demoRules,
  makeRepo,
  SKILL,
  showRunFile,
  smallDesign,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/**
 * The demo chain against a misbehaving model: the scripted server in chaos mode, several seeds.
 * Whatever the faults, a run ends done, at a gate, or stopped with a named error committed on
 * the branch: never a crash, a hang or a corrupt branch.
 */

const sandbox = useGitSandbox();
const SEEDS = [11, 12, 13];
/** Far above a healthy run here (10–40 s on a busy machine): reaching it means the run hung. */
const HANG_MS = 100_000;
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

function within(ms: number, run: Promise<CliRun>): Promise<CliRun> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run did not end within ${ms} ms`)), ms);
  });
  return Promise.race([run, hung]).finally(() => clearTimeout(timer));
}

async function chaosRun(seed: number, chaos: Record<string, unknown> = {}) {
  // One improvement round: every step meets the chaos, and the run stays short.
  const repo = makeRepo(sandbox.base, {
    config: { heldout_share: 0, max_iterations: 1, max_revisions: 1 },
  });
  const script = writeScript(sandbox.base, smallDesign(demoRules()), {
    chaos: { seed, rate: 0.2, stall_ms: 50, retry_after_ms: 10, ...chaos },
  });
  const run = await within(HANG_MS, cli(repo, 'run', SKILL, '--autopilot', '--scripted', script));
  return { seed, repo, run };
}

describe('the demo chain under a chaotic model', () => {
  // Concurrent: both spend most of their time in retry back-offs, not on the CPU.
  it.concurrent(
    'ends every seeded run done, at a gate, or stopped with a named committed error',
    async () => {
      const runs = await Promise.all([
        ...SEEDS.map((seed) => chaosRun(seed)),
        // Every structured answer that carries an edit gets it slightly wrong.
        chaosRun(21, { rate: 1, kinds: ['near-miss-edit'] }),
      ]);
      let retries = 0;
      for (const { seed, repo, run } of runs) {
        const context = `seed ${seed}:\n${run.stdout}\n${run.stderr}`;
        expect(run.stderr, context).not.toMatch(STACK_FRAME);
        expect(run.stderr, context).not.toMatch(/SyntaxError|TypeError|Unhandled/);
        expect([0, 1, 2], context).toContain(run.code);
        retries += run.stderr.match(/ on attempt \d+\/\d+ \(/g)?.length ?? 0;

        execFileSync('git', ['fsck', '--no-progress', '--strict'], { cwd: repo, stdio: 'pipe' });
        const text = showRunFile(repo, 'chain.yml');
        expect(text, context).not.toBeNull();
        const state = parseState(text ?? '', 'chain.yml');
        const labels = commitLabels(repo);
        expect(labels[0], context).toBe('00 vendor');
        if (state.status === 'done') {
          expect(labels, context).toContain('06 bench');
        } else if (state.status === 'gate') {
          expect(state.open_gate, context).not.toBeNull();
        } else {
          // Stopped: why is on the branch, in plain words; a step's failure is committed by name.
          expect(state.status, context).toBe('stopped');
          expect(state.stop_reason, context).toMatch(/\S/);
          if (/error budget|failed/.test(state.stop_reason ?? '')) {
            expect(
              labels.some((l) => l.endsWith(' failed')),
              context,
            ).toBe(true);
            expect(state.last_error?.message, context).toMatch(/\S/);
          }
        }
        expect(state.last_error?.message ?? '', context).not.toMatch(STACK_FRAME);
      }
      // The chaos was real: the model client met faults and said so on stderr.
      expect(retries).toBeGreaterThan(0);
    },
    150_000,
  );

  it.concurrent(
    'a model answering garbage on every attempt fails the step by name, committed, without a stack trace',
    async () => {
      const repo = makeRepo(sandbox.base);
      const garbled = {
        name: 'garbled',
        when: { tool_offered: 'report_functionality' },
        fault: 'malformed',
      };
      const script = writeScript(sandbox.base, [garbled, ...demoRules()]);
      const run = await within(HANG_MS, cli(repo, 'run', SKILL, '--scripted', script));
      const context = `${run.stdout}\n${run.stderr}`;
      expect(run.code, context).toBe(1);
      expect(run.stderr).not.toMatch(STACK_FRAME);
      expect(run.stderr).not.toContain('SyntaxError');
      expect(run.stderr).toMatch(
        /^Anthropic API sent a truncated or invalid response on attempt 5\/6 \(functionality call to /m,
      );
      expect(run.stderr).toMatch(
        /^error: step 01 functionality failed: Anthropic API sent a truncated or invalid response after 6 attempts over \d+ s \(functionality call to claude-[\w-]+\); try again later\.$/m,
      );
      expect(commitLabels(repo)).toEqual(['00 vendor', '01 functionality failed']);
      const state = parseState(showRunFile(repo, 'chain.yml') ?? '', 'chain.yml');
      expect(state.last_error).toMatchObject({ step: 'functionality' });
      expect(state.last_error?.message).toMatch(
        /^Anthropic API sent a truncated or invalid response/,
      );
    },
    150_000,
  );
});
