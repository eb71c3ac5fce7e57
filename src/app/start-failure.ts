import { SkillOptimizerError } from '../errors.js';
import { redactSecrets } from '../text/redact.js';

/**
 * What the App says when its work after answering a delivery fails (docs/security.md): the
 * delivery was answered 200 before any GitHub call, so GitHub shows it as delivered and the
 * person who commented, labelled or reviewed learns of the failure only from this.
 */

const WHAT: Record<string, string> = {
  issue_comment: 'this comment',
  pull_request: 'this label',
  pull_request_review: 'this review',
};

/**
 * The one-line reason for the log and the PR. A SkillOptimizerError's message is written for the
 * user (e.g. "could not start the workflow …: GitHub is unavailable (502) even after retrying");
 * anything else is a defect whose text is not the PR's business, so only the log has it.
 */
export function failureReason(error: unknown): string {
  if (error instanceof SkillOptimizerError) return redactSecrets(error.message);
  return 'an internal error';
}

/** The text of the error for the App's log, redacted. */
export function failureForLog(error: unknown): string {
  if (error instanceof Error)
    return redactSecrets(error.stack ?? `${error.name}: ${error.message}`);
  return redactSecrets(String(error));
}

/** The body of the bot's marked comment, after `marker`. */
export function renderStartFailure(args: {
  marker: string;
  eventName: string;
  deliveryId: string;
  error: unknown;
}): string {
  const what = WHAT[args.eventName] ?? 'this event';
  const delivery = args.deliveryId.replace(/`/g, '');
  return [
    args.marker,
    `Skill Optimizer could not act on ${what}: ${failureReason(args.error)}`,
    '',
    `Nothing was started. Redelivering delivery \`${delivery}\` from the GitHub App's settings (Advanced → Recent Deliveries) tries again; the App's log has the details.`,
  ].join('\n');
}
