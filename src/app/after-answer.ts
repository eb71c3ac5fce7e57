import type { Context } from 'probot';
import type { RecentEvents } from '../routing/dedupe.js';
import { githubPort } from './github-port.js';
import { type AcceptedEvent, handleAccepted, MARKERS } from './handlers.js';
import { failureForLog, failureReason, renderStartFailure } from './start-failure.js';

/**
 * What the App does for a delivery after it has answered it, in its work queue: the GitHub work
 * (`handleAccepted`), one log line for the outcome, and for a failure a redacted error line, the
 * dedupe ids released (so a redelivery may try again) and the bot's marked comment on the PR.
 */

export interface AfterAnswerSettings {
  /** The App's own login, asked of GitHub once (and again after a failure). */
  selfLogin: () => Promise<string>;
  recent: RecentEvents;
  workflowFile: string;
}

export function workAfterAnswer(
  settings: AfterAnswerSettings,
): (accepted: AcceptedEvent, context: Context) => Promise<void> {
  const { selfLogin, recent, workflowFile } = settings;

  /** The GitHub work of one accepted delivery; never throws. */
  const work = async (accepted: AcceptedEvent, context: Context): Promise<void> => {
    const delivery = { delivery: context.id, event: context.name };
    let self: string | null = null;
    try {
      self = await selfLogin();
      const outcome = await handleAccepted(accepted, githubPort(context.octokit, self), {
        selfLogin: self,
        recent,
        workflowFile,
      });
      context.log.info({ ...delivery, outcome }, `skill-optimizer: ${outcome.kind}`);
    } catch (error) {
      recent.release(accepted.keys); // a redelivery may try again
      context.log.error(
        { ...delivery, error: failureForLog(error) },
        `skill-optimizer: could not act on delivery ${context.id}: ${failureReason(error)}`,
      );
      await reportFailure(accepted, context, self, error);
    }
  };

  /** The failure as the bot's marked comment on the PR, when the event names one. */
  const reportFailure = async (
    accepted: AcceptedEvent,
    context: Context,
    self: string | null,
    error: unknown,
  ): Promise<void> => {
    if (accepted.issueNumber === null) return;
    if (self === null) {
      // Without its own login the bot cannot find its earlier comment to edit in place.
      context.log.error(
        { delivery: context.id },
        `skill-optimizer: the failure of delivery ${context.id} was not reported on #${accepted.issueNumber}: the App's own login is unknown`,
      );
      return;
    }
    const body = renderStartFailure({
      marker: MARKERS.failure,
      eventName: context.name,
      deliveryId: context.id,
      error,
    });
    try {
      await githubPort(context.octokit, self).upsertComment(
        accepted.repo,
        accepted.issueNumber,
        MARKERS.failure,
        body,
      );
    } catch (reportError) {
      context.log.error(
        { delivery: context.id, error: failureForLog(reportError) },
        `skill-optimizer: could not report the failure of delivery ${context.id} on #${accepted.issueNumber}: ${failureReason(reportError)}`,
      );
    }
  };

  return work;
}
