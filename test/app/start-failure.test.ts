import { describe, expect, it } from 'vitest';
import { MARKERS } from '../../src/app/handlers.js';
import { failureForLog, failureReason, renderStartFailure } from '../../src/app/start-failure.js';
import { SkillOptimizerError } from '../../src/errors.js';
import { REDACTED } from '../../src/text/redact.js';

const TOKEN = `ghs_${'Z9y8X7w6'.repeat(4)}`;

describe('what the App says when its work after the answer fails', () => {
  it('a user-facing error is told on the PR, redacted, with how to try again', () => {
    const error = new SkillOptimizerError(`could not start the workflow: GitHub said ${TOKEN}`);
    expect(
      renderStartFailure({
        marker: MARKERS.failure,
        eventName: 'pull_request_review',
        deliveryId: 'abc`def',
        error,
      }),
    ).toBe(
      `${MARKERS.failure}\nSkill Optimizer could not act on this review: could not start the workflow: GitHub said ${REDACTED}\n\nNothing was started. Redelivering delivery \`abcdef\` from the GitHub App's settings (Advanced → Recent Deliveries) tries again; the App's log has the details.`,
    );
  });

  it('any other error is "an internal error" on the PR; its text, redacted, goes to the log only', () => {
    const error = new TypeError(`cannot read x of undefined near ${TOKEN}`);
    expect(failureReason(error)).toBe('an internal error');
    const body = renderStartFailure({
      marker: MARKERS.failure,
      eventName: 'issue_comment',
      deliveryId: 'd-1',
      error,
    });
    expect(body).toContain('could not act on this comment: an internal error\n');
    expect(body).not.toContain('cannot read');
    const logged = failureForLog(error);
    expect(logged).toContain(`TypeError: cannot read x of undefined near ${REDACTED}`);
    expect(logged).not.toContain(TOKEN);
    expect(failureForLog(`thrown text ${TOKEN}`)).toBe(`thrown text ${REDACTED}`);
  });
});
