import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { SkillOptimizerError } from '../errors.js';

/** What the Actions runner tells the job about itself (`GITHUB_*`), validated once. */
export interface ActionContext {
  eventName: string;
  payload: unknown;
  owner: string;
  repo: string;
  workspace: string;
  runId: string;
  runAttempt: string;
  serverUrl: string;
  apiUrl: string;
  tempDir: string;
}

const envSchema = z.object({
  GITHUB_EVENT_NAME: z.string().min(1),
  GITHUB_EVENT_PATH: z.string().min(1),
  GITHUB_REPOSITORY: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: 'expected owner/repo' }),
  GITHUB_WORKSPACE: z.string().min(1),
  GITHUB_RUN_ID: z.string().regex(/^\d+$/),
  GITHUB_RUN_ATTEMPT: z.string().regex(/^\d+$/).default('1'),
  GITHUB_SERVER_URL: z.url().default('https://github.com'),
  GITHUB_API_URL: z.url().default('https://api.github.com'),
  RUNNER_TEMP: z.string().min(1).optional(),
});

export class ActionContextError extends SkillOptimizerError {}

export async function readActionContext(
  env: NodeJS.ProcessEnv,
  fallbackTemp: string,
): Promise<ActionContext> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((i) => `${String(i.path[0])} (${i.message})`);
    throw new ActionContextError(
      `this runs as a GitHub Action; the runner did not set ${names.join(', ')}`,
    );
  }
  const e = parsed.data;
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(e.GITHUB_EVENT_PATH, 'utf8'));
  } catch (error) {
    throw new ActionContextError(
      `cannot read the event payload at ${e.GITHUB_EVENT_PATH}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const [owner = '', repo = ''] = e.GITHUB_REPOSITORY.split('/');
  return {
    eventName: e.GITHUB_EVENT_NAME,
    payload,
    owner,
    repo,
    workspace: e.GITHUB_WORKSPACE,
    runId: e.GITHUB_RUN_ID,
    runAttempt: e.GITHUB_RUN_ATTEMPT,
    serverUrl: e.GITHUB_SERVER_URL.replace(/\/+$/, ''),
    apiUrl: e.GITHUB_API_URL.replace(/\/+$/, ''),
    tempDir: e.RUNNER_TEMP ?? fallbackTemp,
  };
}
