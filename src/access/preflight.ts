import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type BubblewrapProbe, createSandbox, type SandboxMode } from '../bench/sandbox/index.js';
import { checkSkillFolder } from '../chain/start.js';
import type { Config } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import { checkModelKey } from '../model/key-check.js';
import { loadScript } from '../model/scripted/script.js';
import { startScriptedServer } from '../model/scripted/server.js';
import { DEFAULT_BASE_URL, secretInReach } from './model-access.js';

/** One thing a run needs, checked before anything is written. */
export interface PreflightCheck {
  name: 'git' | 'config' | 'skill' | 'model' | 'sandbox';
  ok: boolean;
  /** What was found, or what is wrong and how to fix it. */
  detail: string;
}

export interface PreflightOptions {
  /** Where ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL are read from. */
  env: NodeJS.ProcessEnv;
  cwd: string;
  config: Config;
  sandboxMode: SandboxMode;
  scriptedPath: string | undefined;
  /** The skill folder a run is about to start on (checked when given). */
  skillDir?: string;
  probeBubblewrap?: BubblewrapProbe;
  missingKeyHint?: string;
}

/**
 * The checks `doctor` shows and `run` (and the Action) pass before committing anything: the skill
 * folder, a model that answers with the key given, and the sandbox level trials will get.
 */
export async function runPreflight(opts: PreflightOptions): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  if (opts.skillDir !== undefined) checks.push(await skillCheck(opts.cwd, opts.skillDir));
  checks.push(await modelCheck(opts));
  checks.push(await sandboxCheck(opts));
  return checks;
}

async function skillCheck(cwd: string, skillDir: string): Promise<PreflightCheck> {
  return attempt('skill', async () => {
    const skill = await checkSkillFolder(cwd, skillDir);
    return `${skill.skillPath}: '${skill.skillName}', committed`;
  });
}

async function modelCheck(opts: PreflightOptions): Promise<PreflightCheck> {
  const model = opts.config.models.executor;
  if (opts.scriptedPath !== undefined) {
    const path = resolve(opts.cwd, opts.scriptedPath);
    if (!existsSync(path)) {
      return fail('model', `the scripted file ${path} does not exist (--scripted)`);
    }
    return attempt('model', async () => {
      const server = await startScriptedServer({ script: await loadScript(path) });
      try {
        const answer = await checkModelKey({
          apiKey: 'scripted-model-key',
          baseURL: server.url,
          model,
        });
        if (!answer.ok) throw new SkillOptimizerError(answer.message);
      } finally {
        await server.close();
      }
      return `the scripted model from ${path} answers`;
    });
  }
  const key = opts.env.ANTHROPIC_API_KEY;
  if (!key) {
    return fail(
      'model',
      opts.missingKeyHint ??
        'ANTHROPIC_API_KEY is not set. Export it, or pass --scripted <script> to use the local scripted model.',
    );
  }
  const baseURL = opts.env.ANTHROPIC_BASE_URL || DEFAULT_BASE_URL;
  const answer = await checkModelKey({ apiKey: key, baseURL, model });
  return answer.ok
    ? {
        name: 'model',
        ok: true,
        detail: `the API at ${new URL(baseURL).host} accepts the key (${model})`,
      }
    : fail('model', answer.message);
}

async function sandboxCheck(opts: PreflightOptions): Promise<PreflightCheck> {
  return attempt('sandbox', async () => {
    const sandbox = await createSandbox(opts.sandboxMode, {
      secretInReach: secretInReach(opts.env, opts.scriptedPath),
      ...(opts.probeBubblewrap ? { probe: opts.probeBubblewrap } : {}),
    });
    const why = sandbox.fallbackReason ? ` (weaker isolation: ${sandbox.fallbackReason})` : '';
    return `trials run in ${sandbox.level}${why}`;
  });
}

/** Runs a check whose failures a user can act on; anything else is a bug and propagates. */
async function attempt(
  name: PreflightCheck['name'],
  check: () => Promise<string>,
): Promise<PreflightCheck> {
  try {
    return { name, ok: true, detail: await check() };
  } catch (error) {
    if (!(error instanceof SkillOptimizerError)) throw error;
    return fail(name, error.message);
  }
}

function fail(name: PreflightCheck['name'], detail: string): PreflightCheck {
  return { name, ok: false, detail };
}
