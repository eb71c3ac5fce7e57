import type { AnsweredEvent } from '../chain/answered.js';
import type { Config } from '../config/schema.js';
import type { RouteDecision } from '../routing/route.js';
import type { ActionDeps, ActionOutcome } from './ports.js';
import { NOTE_MARKER, quiet, type Session } from './session.js';
import { startRuns } from './start-runs.js';
import { commandOnPr, reviewOnChainPr } from './steer-runs.js';
import type { TrackerSync } from './tracker-sync.js';

/**
 * The chain half of the Action: start or resume runs for a routed event, drive them to the next
 * gate or the end, keep the chain PR's tracker and the skill PR's check run up to date.
 */

export async function runChainJob(
  deps: ActionDeps,
  config: Config,
  decision: RouteDecision,
): Promise<ActionOutcome> {
  const trackers = new Map<string, TrackerSync>();
  const session: Session = {
    deps,
    config,
    trackers,
    place: {
      repoDir: deps.context.workspace,
      remote: deps.remote,
      runRoot: config.run_dir,
      answering: answeredEvent(decision),
      onPushed: async (branch) => {
        await trackers.get(branch)?.pushed();
      },
      onRecover: (message) => deps.log.warning(`recovered: ${message}`),
    },
  };
  switch (decision.kind) {
    case 'ignore':
      return quiet('ignored', `nothing to do: ${decision.reason}`);
    case 'refuse':
      await deps.github.upsertComment(decision.target.issueNumber, NOTE_MARKER, decision.reply);
      return quiet('ignored', `refused: ${decision.reason}`);
    case 'start':
      return startRuns(session, decision.pr, {
        autopilot: decision.autopilot,
        intent: decision.intent,
        actor: decision.actor,
        skillPath: null,
        headSha: decision.headSha,
      });
    case 'dispatch': {
      const { actor } = decision;
      if (decision.command.kind === 'start' || decision.command.kind === 'autopilot') {
        return startRuns(session, decision.pr, {
          autopilot: decision.command.kind === 'autopilot',
          intent:
            decision.command.kind === 'start' && decision.command.text !== ''
              ? decision.command.text
              : null,
          actor,
          skillPath: decision.skillPath,
          headSha: decision.headSha,
        });
      }
      return commandOnPr(session, decision.pr, decision.command, actor);
    }
    case 'command':
      return commandOnPr(session, decision.pr, decision.command, decision.actor);
    case 'review':
      return reviewOnChainPr(session, decision);
  }
}

/** The comment or review a decision acts on: what a redelivery of it must not repeat. */
function answeredEvent(decision: RouteDecision): AnsweredEvent | null {
  switch (decision.kind) {
    case 'start':
    case 'command':
      return decision.commentId ? { kind: 'comment', id: decision.commentId } : null;
    case 'dispatch':
      if (decision.commentId !== null) return { kind: 'comment', id: decision.commentId };
      return decision.reviewId === null ? null : { kind: 'review', id: decision.reviewId };
    case 'review':
      return { kind: 'review', id: decision.reviewId };
    default:
      return null;
  }
}
