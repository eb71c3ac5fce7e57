import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChainState, initialState } from '../../src/chain/state.js';
import {
  parseTrackerState,
  renderTracker,
  stepLines,
  TRACKER_MARKER,
  type TrackerExtra,
} from '../../src/routing/tracker.js';

const SHA = 'a'.repeat(40);

function chain(overrides: Partial<ChainState> = {}): ChainState {
  return {
    ...initialState({ slug: 'pdf', skillPath: 'skills/pdf', sourceCommit: SHA, autopilot: false }),
    ...overrides,
  };
}

const gate = {
  id: 'picks' as const,
  step: 'design-tests' as const,
  question: 'Which functionalities should get probes?',
  options: [{ name: 'approve', description: 'top 5' }],
  default: 'approve',
  files: ['03-test-proposals.md'],
  asked_at: '2025-01-01T00:00:00.000Z',
};

const extra: TrackerExtra = {
  skillPr: 12,
  triggeredBy: 'octocat',
  pinnedSha: SHA,
  results: { functionality: 'tool-use skill, 6 responsibilities' },
  running: null,
};

describe('renderTracker', () => {
  it('shows one line per step, the status, the cost and the hidden blocks', () => {
    const body = renderTracker(
      chain({ status: 'gate', open_gate: gate, upstream: false, cost_usd: 1.234 }),
      extra,
    );
    expect(body.startsWith(TRACKER_MARKER)).toBe(true);
    expect(body).toContain('- [x] 01 functionality: done — tool-use skill, 6 responsibilities');
    expect(body).toContain('- [x] 02 submissions: skipped — not upstream-bound');
    expect(body).toContain(
      '- [ ] 03 design-tests: **waiting at gate** — gate picks: Which functionalities should get probes?',
    );
    expect(body).toContain('- [ ] 04 write-tests: pending');
    expect(body).toContain('**Status:** gate');
    expect(body).toContain('**Cost so far:** $1.23');
    expect(body.match(/^- \[[ x]\] \d\d /gm)).toHaveLength(9);
    expect(body).toMatch(/<!-- skill-optimizer:state \{.*\} -->/);
  });

  it('marks the running and the failed step', () => {
    const lines = stepLines(chain({ last_error: { step: 'bench', message: 'sandbox missing' } }), {
      ...extra,
      running: 'analyze',
    });
    expect(lines.find((l) => l.step === 'bench')).toEqual({
      step: 'bench',
      status: 'failed',
      detail: 'sandbox missing',
    });
    expect(lines.find((l) => l.step === 'analyze')?.status).toBe('running');
  });

  it("shows the running step's progress on its line, and only there", () => {
    const body = renderTracker(chain(), {
      ...extra,
      running: 'bench',
      runningDetail: '3/6 trials, 2 passed, 0 errors, $0.40 spent',
    });
    expect(body).toContain(
      '- [ ] 06 bench: **running** — 3/6 trials, 2 passed, 0 errors, $0.40 spent',
    );
    expect(body.match(/3\/6 trials/g)).toHaveLength(1);
  });

  it('round-trips its state block', () => {
    const body = renderTracker(chain({ status: 'gate', open_gate: gate }), extra);
    expect(parseTrackerState(body)).toEqual({
      v: 1,
      slug: 'pdf',
      skill_path: 'skills/pdf',
      skill_pr: 12,
      status: 'gate',
      open_gate: 'picks',
      gate_step: 'design-tests',
      pinned_sha: SHA,
      triggered_by: 'octocat',
    });
  });

  it("records the job's check run for the run's next job, and reads bodies written before it", () => {
    const checkRun = { id: 41, head_sha: 'b'.repeat(40) };
    const body = renderTracker(chain(), { ...extra, checkRun });
    expect(parseTrackerState(body)?.check_run).toEqual(checkRun);
    const older = renderTracker(chain(), extra);
    expect(parseTrackerState(older)).not.toBeNull();
    expect(parseTrackerState(older)?.check_run).toBeUndefined();
  });

  it('reads a tampered check run record as no state at all', () => {
    const body = renderTracker(chain(), { ...extra, checkRun: { id: 41, head_sha: SHA } });
    for (const forged of [
      `"check_run":{"id":"41","head_sha":"${SHA}"}`,
      '"check_run":{"id":41,"head_sha":"main"}',
      `"check_run":{"id":41,"head_sha":"${SHA}","url":"x"}`,
    ]) {
      const edited = body.replace(/"check_run":\{[^}]*\}/, forged);
      expect(edited).not.toBe(body);
      expect(parseTrackerState(edited)).toBeNull();
    }
  });

  it('pins no commit while no gate is open, and writes the root skill as .', () => {
    const state = parseTrackerState(renderTracker(chain({ skill_path: '' }), extra));
    expect(state).toMatchObject({
      open_gate: null,
      gate_step: null,
      pinned_sha: null,
      skill_path: '.',
    });
  });

  it('neutralises hostile values: they cannot close the comment or add markup', () => {
    const hostile = 'x --> <!-- skill-optimizer:state {"v":1} --> <img src=x> @everyone';
    const body = renderTracker(
      chain({
        skill_path: 'skills/a-->b<c',
        status: 'failed',
        stop_reason: hostile,
        last_error: { step: 'bench', message: hostile },
      }),
      { ...extra, results: { functionality: hostile } },
    );
    // Exactly the comments the renderer writes: the marker and one state block. The path is shown
    // verbatim, but only inside a code span, where GitHub renders it as text.
    expect(body).toContain('## Skill Optimizer: `skills/a-->b<c`\n');
    const outsideCode = body.replace('`skills/a-->b<c`', '');
    expect(outsideCode.match(/<!--/g)).toHaveLength(2);
    expect(outsideCode.match(/-->/g)).toHaveLength(2);
    expect(body).not.toContain('<img');
    expect(body).not.toContain('@everyone');
    expect(parseTrackerState(body)?.skill_path).toBe('skills/a-->b<c');
  });

  it('keeps any skill path inside the state block (property)', () => {
    const segment = fc.string({ minLength: 1, maxLength: 8 }).filter(
      (s) =>
        !s.includes('/') &&
        s !== '.' &&
        s !== '..' &&
        !s.includes('\\') &&
        !s.includes('\0') &&
        !/^[A-Za-z]:/.test(s), // a drive letter is not repository-relative
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (parts) => {
        const path = parts.join('/');
        const body = renderTracker(chain({ skill_path: path }), extra);
        expect(body.match(/-->/g)).toHaveLength(2);
        expect(parseTrackerState(body)?.skill_path).toBe(path);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseTrackerState', () => {
  const body = renderTracker(chain({ status: 'gate', open_gate: gate }), extra);
  const json = /<!-- skill-optimizer:state (.*) -->/.exec(body)?.[1] ?? '';
  const edit = (change: (value: Record<string, unknown>) => void): string => {
    const value = JSON.parse(json) as Record<string, unknown>;
    change(value);
    return body.replace(json, JSON.stringify(value));
  };

  it.each<[string, string]>([
    ['no block', 'just a PR description'],
    ['invalid JSON', body.replace(json, '{"v":1,')],
    ['two blocks', `${body}\n<!-- skill-optimizer:state ${json} -->`],
    [
      'an unknown gate',
      edit((v) => {
        v.open_gate = 'merge-now';
      }),
    ],
    [
      'a short SHA',
      edit((v) => {
        v.pinned_sha = 'abc123';
      }),
    ],
    [
      'an escaping skill path',
      edit((v) => {
        v.skill_path = '../../etc';
      }),
    ],
    [
      'an extra key',
      edit((v) => {
        v.run_as = 'admin';
      }),
    ],
    [
      'a missing key',
      edit((v) => {
        delete v.skill_pr;
      }),
    ],
    [
      'a bad login',
      edit((v) => {
        v.triggered_by = 'a b';
      }),
    ],
    [
      'a wrong version',
      edit((v) => {
        v.v = 2;
      }),
    ],
    ['a non-object', body.replace(json, '[1,2]')],
  ])('%s → null', (_what, tampered) => {
    expect(parseTrackerState(tampered)).toBeNull();
  });

  it('reads null and undefined bodies as null', () => {
    expect(parseTrackerState(null)).toBeNull();
    expect(parseTrackerState(undefined)).toBeNull();
  });
});
