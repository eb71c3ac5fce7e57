import { type PreflightCheck, runPreflight } from '../access/preflight.js';
import { parseSandboxMode, type SandboxMode } from '../bench/sandbox/index.js';
import { CONFIG_PATH, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import { repoRoot, requireHeadCommit } from '../store/repo.js';
import type { CliIO } from './io.js';

export interface DoctorOptions {
  scripted?: string;
  sandbox?: string;
}

/**
 * `skill-optimizer doctor [skill-dir]`: every check a run passes before it writes anything, each
 * on its own line; exit 0 when all pass.
 */
export async function doctorCommand(
  skillDir: string | undefined,
  opts: DoctorOptions,
  io: CliIO,
): Promise<number> {
  const checks: PreflightCheck[] = [];
  const found = await gitCheck(io.cwd);
  checks.push(found.check);
  if (found.root !== null) {
    const configured = await configCheck(found.root, opts);
    checks.push(configured.check);
    if (configured.config !== null && configured.mode !== null) {
      checks.push(
        ...(await runPreflight({
          env: io.env,
          cwd: io.cwd,
          config: configured.config,
          sandboxMode: configured.mode,
          scriptedPath: opts.scripted,
          ...(skillDir !== undefined ? { skillDir } : {}),
        })),
      );
    }
  }
  for (const check of checks) {
    io.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.detail}\n`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  io.stdout.write(failed === 0 ? 'ready to run\n' : `${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

/**
 * Runs the preflight for `run` and says every failure; true when the run may start. Nothing has
 * been written when it says no.
 */
export async function preflightPasses(
  io: CliIO,
  opts: {
    cwd: string;
    config: Config;
    sandboxMode: SandboxMode;
    scripted?: string;
    skillDir: string;
  },
): Promise<boolean> {
  const checks = await runPreflight({
    env: io.env,
    cwd: opts.cwd,
    config: opts.config,
    sandboxMode: opts.sandboxMode,
    scriptedPath: opts.scripted,
    skillDir: opts.skillDir,
  });
  const failed = checks.filter((c) => !c.ok);
  for (const check of failed) io.stderr.write(`error: ${check.detail}\n`);
  if (failed.length > 0) {
    io.stderr.write('nothing was started; see every check with: skill-optimizer doctor\n');
  }
  return failed.length === 0;
}

async function gitCheck(cwd: string): Promise<{ check: PreflightCheck; root: string | null }> {
  try {
    const root = await repoRoot(cwd);
    const commit = await requireHeadCommit(root);
    return {
      check: {
        name: 'git',
        ok: true,
        detail: `repository at ${root}, HEAD ${commit.slice(0, 12)}`,
      },
      root,
    };
  } catch (error) {
    if (!(error instanceof SkillOptimizerError)) throw error;
    return { check: { name: 'git', ok: false, detail: error.message }, root: null };
  }
}

async function configCheck(
  root: string,
  opts: DoctorOptions,
): Promise<{ check: PreflightCheck; config: Config | null; mode: SandboxMode | null }> {
  try {
    const config = await loadConfig(root);
    const mode =
      opts.sandbox === undefined ? config.sandbox : parseSandboxMode(opts.sandbox, '--sandbox');
    return {
      check: {
        name: 'config',
        ok: true,
        detail: `${CONFIG_PATH} valid (runner ${config.runner}, executor ${config.models.executor}, budget $${config.budget_usd})`,
      },
      config,
      mode,
    };
  } catch (error) {
    if (!(error instanceof SkillOptimizerError)) throw error;
    return {
      check: { name: 'config', ok: false, detail: error.message },
      config: null,
      mode: null,
    };
  }
}
