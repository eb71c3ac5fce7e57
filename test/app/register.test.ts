import { describe, expect, it } from 'vitest';
import { workConcurrency } from '../../src/app/register.js';
import { DEFAULT_WORK_CONCURRENCY } from '../../src/app/work-queue.js';

describe('SKILL_OPTIMIZER_APP_CONCURRENCY', () => {
  it('sets how many deliveries are worked on at once, the default when unset', () => {
    expect(workConcurrency({})).toBe(DEFAULT_WORK_CONCURRENCY);
    expect(workConcurrency({ SKILL_OPTIMIZER_APP_CONCURRENCY: '8' })).toBe(8);
  });

  it.each(['0', '-1', '2.5', 'lots'])(
    '%j is refused with a message naming the variable',
    (text) => {
      expect(() => workConcurrency({ SKILL_OPTIMIZER_APP_CONCURRENCY: text })).toThrow(
        /SKILL_OPTIMIZER_APP_CONCURRENCY must be a positive whole number .*unset it for the default 32/,
      );
    },
  );
});
