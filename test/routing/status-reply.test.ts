import { describe, expect, it } from 'vitest';
import { renderStatusReply } from '../../src/routing/status-reply.js';
import type { TrackerState } from '../../src/routing/tracker.js';

const state: TrackerState = {
  v: 1,
  slug: 'pdf',
  skill_path: 'skills/pdf',
  skill_pr: 3,
  status: 'running',
  open_gate: null,
  gate_step: null,
  pinned_sha: null,
  triggered_by: 'octocat',
};

describe('renderStatusReply', () => {
  it('says how to start when there is no run', () => {
    expect(renderStatusReply(3, [], 'skill-optimizer')).toBe(
      'No Skill Optimizer run for #3 yet. Start one with `/optimize` or the `skill-optimizer` label.',
    );
  });

  it.each<[TrackerState['status'], RegExp]>([
    ['running', /#8: running$/],
    ['done', /#8: finished$/],
    ['stopped', /#8: stopped; comment `\/optimize` to resume$/],
    ['failed', /#8: failed; see the chain PR/],
  ])('a %s run', (status, line) => {
    expect(renderStatusReply(3, [{ number: 8, state: { ...state, status } }], 'x')).toMatch(line);
  });

  it('does not mention the triggering user (no notification for a status check)', () => {
    expect(renderStatusReply(3, [{ number: 8, state }], 'x')).not.toContain('@');
  });
});
