import type { Probot } from 'probot';
import { RecentEvents } from '../routing/dedupe.js';
import { registerSecret } from '../text/redact.js';
import { appLogin, githubPort } from './github-port.js';
import { handleEvent, WORKFLOW_FILE } from './handlers.js';
import { checkWebhookSecret } from './webhook-secret.js';

/**
 * Wires the handlers into probot. Probot verifies webhook signatures before any handler runs;
 * loading refuses to go on without a real WEBHOOK_SECRET in `env` (see webhook-secret.ts).
 */

export interface AppOptions {
  /** The process environment: WEBHOOK_SECRET (or SKILL_OPTIMIZER_INSECURE_DEV=1) is required. */
  env: Readonly<Record<string, string | undefined>>;
  /** The App's login; asked from `GET /app` on first use when not given. */
  selfLogin?: string;
  /** Remembers delivery and comment ids; one per process by default. */
  recent?: RecentEvents;
  workflowFile?: string;
}

/** The App's credentials probot reads from its environment. */
export const APP_SECRET_VARIABLES = [
  'WEBHOOK_SECRET',
  'PRIVATE_KEY',
  'GITHUB_CLIENT_SECRET',
] as const;

/**
 * Registers the App's credentials with the redactor, so nothing the bot sends to GitHub can carry
 * them (installation tokens are redacted by their `ghs_` shape, private keys by their PEM shape).
 */
export function registerAppSecrets(env: NodeJS.ProcessEnv): void {
  for (const name of APP_SECRET_VARIABLES) {
    const value = env[name];
    registerSecret(value);
    // A key given on one line with `\n` escapes is the same key.
    if (value?.includes('\\n')) registerSecret(value.replace(/\\n/g, '\n'));
  }
}

export function skillOptimizerApp(options: AppOptions): (app: Probot) => void {
  return (app: Probot): void => {
    const secret = checkWebhookSecret(options.env);
    if (secret.kind === 'insecure-dev') app.log.warn(secret.warning);
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
