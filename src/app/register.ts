import type { Probot } from 'probot';
import { RecentEvents } from '../routing/dedupe.js';
import { appLogin, githubPort } from './github-port.js';
import { handleEvent, WORKFLOW_FILE } from './handlers.js';

/**
 * Wires the handlers into probot. Probot verifies webhook signatures before any handler runs
 * (when it has a webhook secret, as `probot run` always does).
 */

export interface AppOptions {
  /** The App's login; asked from `GET /app` on first use when not given. */
  selfLogin?: string;
  /** Remembers delivery and comment ids; one per process by default. */
  recent?: RecentEvents;
  workflowFile?: string;
}

export function skillOptimizerApp(options: AppOptions = {}): (app: Probot) => void {
  return (app: Probot): void => {
    const recent = options.recent ?? new RecentEvents();
    const workflowFile = options.workflowFile ?? WORKFLOW_FILE;
    let login: Promise<string> | null =
      options.selfLogin === undefined ? null : Promise.resolve(options.selfLogin);
    const selfLogin = (): Promise<string> => {
      if (login === null) {
        const asked = app.auth().then(appLogin);
        asked.catch(() => {
          if (login === asked) login = null; // ask again on the next event
        });
        login = asked;
      }
      return login;
    };

    app.on(['pull_request', 'issue_comment', 'pull_request_review'], async (context) => {
      const self = await selfLogin();
      const outcome = await handleEvent(
        { id: context.id, name: context.name, payload: context.payload },
        githubPort(context.octokit, self),
        { selfLogin: self, recent, workflowFile },
      );
      context.log.info(
        { delivery: context.id, event: context.name, outcome },
        `skill-optimizer: ${outcome.kind}`,
      );
    });
  };
}
