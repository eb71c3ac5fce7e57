import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { Probot, ProbotOctokit } from 'probot';
import { skillOptimizerApp } from '../../src/app/register.js';
import { WorkQueue } from '../../src/app/work-queue.js';
import { RecentEvents } from '../../src/routing/dedupe.js';
import { SELF } from '../routing/webhook-examples.js';

/** A probot instance running the App with a test key, a token (no installation exchange) and no retries. */

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

/**
 * ProbotOctokit with retry and throttling off. A defaults *function*, because probot layers its
 * own `throttle` options over the class it is given: a plain `throttle: { enabled: false }` would
 * be replaced and every write would wait a second in octokit's write queue.
 */
export const TestOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  retry: { enabled: false },
  throttle: { ...(options.throttle as object | undefined), enabled: false },
}));

type ProbotLog = NonNullable<ConstructorParameters<typeof Probot>[0]>['log'];

/** What the App logged, one entry per line: level, the message and its fields. */
export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A probot logger that records every line (children included) instead of printing it. */
export function recordingLog(lines: LogLine[]): ProbotLog {
  const at =
    (level: string) =>
    (first: unknown, second?: unknown): void => {
      const fields = typeof first === 'object' && first !== null ? { ...first } : {};
      const message = typeof first === 'string' ? first : String(second ?? '');
      lines.push({ level, message, fields });
    };
  const log = {
    level: 'trace',
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => log,
  };
  return log as unknown as ProbotLog;
}

export function testProbot(secret?: string, log?: ProbotLog): Probot {
  return new Probot({
    appId: 1,
    privateKey,
    githubToken: 'test',
    Octokit: TestOctokit,
    logLevel: 'fatal',
    ...(secret === undefined ? {} : { secret }),
    ...(log === undefined ? {} : { log }),
  });
}

/** The environment of an App deployed with a webhook secret. */
export const TEST_ENV = { WEBHOOK_SECRET: "It's a Secret to Everybody" };

/** The App and its background work queue: a delivery's GitHub work is done once `queue.idle()`. */
export interface AppUnderTest {
  probot: Probot;
  queue: WorkQueue;
}

export async function appUnderTest(
  recent = new RecentEvents(),
  queue = new WorkQueue(),
): Promise<AppUnderTest> {
  const probot = testProbot();
  await probot.load(skillOptimizerApp({ env: TEST_ENV, selfLogin: SELF, recent, queue }));
  return { probot, queue };
}

export const REPO = '/repos/Codertocat/Hello-World';

export function github(): nock.Scope {
  return nock('https://api.github.com');
}
