import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answeredChange, hasAnswered, parseAnswered } from '../../src/chain/answered.js';

describe('the answered record', () => {
  it('adds each comment or review once and finds it again', () => {
    const one = answeredChange(null, { kind: 'comment', id: 7 });
    expect(one).toEqual({ path: 'answered.txt', content: 'comment 7\n' });
    const text = 'content' in one ? String(one.content) : '';
    expect(answeredChange(text, { kind: 'comment', id: 7 })).toEqual(one);
    const two = answeredChange(text, { kind: 'review', id: 7 });
    expect('content' in two && two.content).toBe('comment 7\nreview 7\n');
    expect(hasAnswered(text, { kind: 'review', id: 7 })).toBe(false);
    expect(hasAnswered(text, { kind: 'comment', id: 70 })).toBe(false);
  });

  it('reads only whole `comment <id>` / `review <id>` lines', () => {
    expect([
      ...parseAnswered('comment 1\n  review 2 \ncomment 3 extra\nissue 4\ncomment 05\n'),
    ]).toEqual(['comment 1', 'review 2']);
  });

  it('any sequence of events is found after recording', () => {
    const event = fc.record({
      kind: fc.constantFrom('comment' as const, 'review' as const),
      id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        let text: string | null = null;
        for (const e of events) {
          const change = answeredChange(text, e);
          text = 'content' in change ? String(change.content) : null;
        }
        for (const e of events) expect(hasAnswered(text, e)).toBe(true);
      }),
    );
  });
});
