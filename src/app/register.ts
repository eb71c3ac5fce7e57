import type { Probot } from 'probot';
import { SkillOptimizerError } from '../errors.js';
import { RecentEvents } from '../routing/dedupe.js';
import { registerSecret } from '../text/redact.js';
import { workAfterAnswer } from './after-answer.js';
import { appLogin } from './github-port.js';
import { acceptEvent, WORKFLOW_FILE } from './handlers.js';
import { drainOnShutdown, type ShutdownSignals } from './shutdown.js';
import { checkWebhookSecret } from './webhook-secret.js';
import { DEFAULT_WORK_CONCURRENCY, WorkQueue } from './work-queue.js';

/**
 * Wires the handlers into probot. Probot verifies webhook signatures before any handler runs;
 * loading refuses to go on without a real WEBHOOK_SECRET in `env` (see webhook-secret.ts).
 *
 * Probot answers a delivery only when every handler has returned, so the handler does only the
 * local part (drop what cannot act, claim the dedupe keys) and queues the GitHub work: the
 * delivery is answered before any GitHub call. The work's failures are logged (redacted) and
 * reported on the PR with the bot's marked comment.
 */

export interface AppOptions {
  /**
   * The process environment: WEBHOOK_SECRET (or SKILL_OPTIMIZER_INSECURE_DEV=1) is required;
   * SKILL_OPTIMIZER_APP_CONCURRENCY optionally sets how many deliveries are worked on at once.
   */
  env: Readonly<Record<string, string | undefined>>;
  /** The App's login; asked from `GET /app` on first use when not given. */
  selfLogin?: string;
  /** Remembers delivery and comment ids; one per process by default. */
  recent?: RecentEvents;
  workflowFile?: string;
  /** Runs the GitHub work after each answer; tests await its `idle()`. One per App by default. */
  queue?: WorkQueue;
  /** When given (the deployed App passes `process`), SIGTERM/SIGINT drain the queue first. */
  shutdown?: ShutdownSignals;
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

/** How many deliveries' GitHub work runs at once; the App's default unless the variable is set. */
export const CONCURRENCY_VARIABLE = 'SKILL_OPTIMIZER_APP_CONCURRENCY';

export function workConcurrency(env: AppOptions['env']): number {
  const text = env[CONCURRENCY_VARIABLE];
  if (text === undefined || text === '') return DEFAULT_WORK_CONCURRENCY;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new SkillOptimizerError(
      `${CONCURRENCY_VARIABLE} must be a positive whole number of deliveries worked on at once, got ${JSON.stringify(text)}; unset it for the default ${DEFAULT_WORK_CONCURRENCY}`,
    );
  }
  return value;
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

    const queue = options.queue ?? new WorkQueue({ concurrency: workConcurrency(options.env) });
    if (options.shutdown !== undefined) {
      drainOnShutdown(queue, options.shutdown, {
        info: (message) => app.log.info(message),
        error: (message) => app.log.error(message),
      });
    }
    const work = workAfterAnswer({ selfLogin, recent, workflowFile });

    app.on(['pull_request', 'issue_comment', 'pull_request_review'], async (context) => {
      const accepted = acceptEvent(
        { id: context.id, name: context.name, payload: context.payload },
        recent,
      );
      if (accepted.kind !== 'accepted') {
        context.log.info(
          { delivery: context.id, event: context.name, outcome: accepted },
          `skill-optimizer: ${accepted.kind}`,
        );
        return;
      }
      try {
        queue.enqueue({ label: `delivery ${context.id}`, run: () => work(accepted, context) });
      } catch (error) {
        recent.release(accepted.keys); // refused now: the delivery is answered with an error
        throw error;
      }
    });
  };
}
