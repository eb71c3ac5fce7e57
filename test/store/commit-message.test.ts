import { describe, expect, it } from 'vitest';
import { stepCommitMessage } from '../../src/store/commit-message.js';

describe('stepCommitMessage', () => {
  it('formats the step number, name and a one-line result', () => {
    expect(
      stepCommitMessage('keep-a-changelog', 5, 'validate-tests', 'all 9 probes\napproved  '),
    ).toBe('skill-optimizer(keep-a-changelog): 05 validate-tests — all 9 probes approved');
    expect(stepCommitMessage('x', 10, 'y', 'z')).toBe('skill-optimizer(x): 10 y — z');
  });
});
