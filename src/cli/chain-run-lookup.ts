import { userInfo } from 'node:os';
import { relative, resolve } from 'node:path';
import { runSlug } from '../chain/start.js';
import { loadConfig } from '../config/load.js';
import { type Config, PRESET_NAMES, type PresetName } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import { runGit } from '../store/git.js';
import { type LocalRunStore, openLocalRun } from '../store/local.js';
import { repoRoot } from '../store/repo.js';
import { sandboxModeOf } from './chain-drive.js';
import type { CliIO } from './io.js';

export interface RunContext {
  store: LocalRunStore;
  root: string;
  skillPath: string;
  config: Config;
  actor: string;
}

/** Opens the existing run named by --skill, or the only run in the repository. */
export async function withRun(
  opts: { skill?: string; preset?: string; sandbox?: string },
  io: CliIO,
  body: (ctx: RunContext) => Promise<number>,
): Promise<number> {
  const root = await repoRoot(io.cwd);
  const config = withPreset(await loadConfig(root), opts.preset);
  sandboxModeOf(opts, config);
  const { slug, skillPath } = await findRun(root, config.run_dir, opts.skill, io.cwd);
  const store = await openLocalRun({ repoDir: root, slug, runRoot: config.run_dir });
  try {
    return await body({ store, root, skillPath, config, actor: await whoAmI(root, io) });
  } finally {
    await store.close();
  }
}

async function findRun(
  root: string,
  runRoot: string,
  skill: string | undefined,
  cwd: string,
): Promise<{ slug: string; skillPath: string }> {
  const refs = (
    await runGit(['for-each-ref', '--format=%(refname:strip=2)', 'refs/heads/skill-optimizer/'], {
      cwd: root,
    })
  ).stdout
    .split('\n')
    .filter(Boolean);
  const runs: Array<{ slug: string; skillPath: string }> = [];
  for (const ref of refs) {
    const slug = ref.slice('skill-optimizer/'.length);
    const shown = await runGit(['show', `${ref}:${runRoot}/${slug}/chain.yml`], {
      cwd: root,
      okCodes: [128],
    });
    const path = /^skill_path: (.+)$/m
      .exec(shown.stdout)?.[1]
      ?.trim()
      .replace(/^['"]|['"]$/g, '');
    if (shown.exitCode === 0 && path) runs.push({ slug, skillPath: path });
  }
  if (skill !== undefined) {
    const rel = relative(root, resolve(cwd, skill)).split('\\').join('/');
    const found = runs.find(
      (r) => r.skillPath === rel || r.slug === skill || r.slug === runSlugSafe(skill),
    );
    if (!found) {
      throw new SkillOptimizerError(
        `no run of '${skill}' in this repository; start one with: skill-optimizer run ${skill}`,
      );
    }
    return found;
  }
  if (runs.length === 1) return runs[0] as { slug: string; skillPath: string };
  if (runs.length === 0)
    throw new SkillOptimizerError(
      'no run in this repository; start one with: skill-optimizer run <skill-dir>',
    );
  throw new SkillOptimizerError(
    `several runs exist (${runs.map((r) => r.skillPath).join(', ')}); say which with --skill <dir>`,
  );
}

function runSlugSafe(text: string): string | null {
  try {
    return runSlug(text);
  } catch {
    return null;
  }
}

export function withPreset(config: Config, preset: string | undefined): Config {
  if (preset === undefined) return config;
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new SkillOptimizerError(
      `--preset must be one of ${PRESET_NAMES.join(', ')} (got '${preset}')`,
    );
  }
  return { ...config, preset: preset as PresetName };
}

export async function whoAmI(root: string, io: CliIO): Promise<string> {
  const name = await runGit(['config', 'user.name'], { cwd: root, okCodes: [1] });
  return name.stdout.trim() || io.env.USER || userInfo().username || 'local user';
}
