import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { loadSkill } from '../bench/skill.js';
import { SkillOptimizerError } from '../errors.js';
import { confinedFolder } from '../store/confined-folder.js';
import { type LocalRunStore, openLocalRun } from '../store/local.js';
import type { FileChange } from '../store/port.js';
import { readTree } from '../store/read-tree.js';
import { isPathDirty, repoRoot, requireHeadCommit } from '../store/repo.js';
import { operatorCommit, RUN_FILES } from './catalog.js';
import type { SkillSource } from './ports.js';
import { initialState, readState, stateChange } from './state.js';

/** A run cannot start from what the user pointed at; the message says what to do instead. */
export class StartRunError extends SkillOptimizerError {}

export interface OpenRunOptions {
  /** Any folder inside the repository (usually the current directory). */
  cwd: string;
  skillDir: string;
  runRoot: string;
  intent?: string;
  autopilot: boolean;
  actor: string;
  now: () => Date;
  onRecover?: (message: string) => void;
}

export interface OpenedRun {
  store: LocalRunStore;
  repoRoot: string;
  /** The skill's folder relative to the repository root, `/`-separated. */
  skillPath: string;
  created: boolean;
}

/** `Keep a Changelog!` → `keep-a-changelog`. */
export function runSlug(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  if (slug === '')
    throw new StartRunError(
      `the skill name '${name}' has no letters or digits to name a run after`,
    );
  return slug;
}

/**
 * Starts a run (vendoring the committed skill, intent.md and chain.yml in one commit) or resumes
 * it, appending any new intent. Refuses a folder without SKILL.md, invalid frontmatter, a skill
 * with uncommitted changes, and a second run of the same skill while one holds the lock.
 */
export async function openRun(opts: OpenRunOptions): Promise<OpenedRun> {
  const { root, skillReal, skillPath, skillName } = await checkSkillFolder(opts.cwd, opts.skillDir);
  const sourceCommit = await requireHeadCommit(root);
  const slug = runSlug(skillName);
  const store = await openLocalRun({
    repoDir: root,
    slug,
    runRoot: opts.runRoot,
    ...(opts.onRecover ? { onRecover: opts.onRecover } : {}),
  });
  try {
    const state = await readState(store);
    const at = opts.now().toISOString();
    if (state === null) {
      const fresh = initialState({ slug, skillPath, sourceCommit, autopilot: opts.autopilot });
      const changes: FileChange[] = [
        ...(await readTree(skillReal, RUN_FILES.vendored)),
        { path: RUN_FILES.intent, content: intentEntry('', opts.intent, opts.actor, at) },
        stateChange(fresh),
      ];
      await store.commit(
        operatorCommit(slug, '00 vendor', `${skillPath} at ${sourceCommit.slice(0, 12)}`),
        changes,
      );
      return { store, repoRoot: root, skillPath, created: true };
    }
    const changes: FileChange[] = [];
    const current = (await store.read(RUN_FILES.intent)) ?? '';
    // Re-running the same command resumes: the intent it repeats is already the latest entry.
    if (opts.intent?.trim() && latestIntent(current) !== opts.intent.trim()) {
      changes.push({
        path: RUN_FILES.intent,
        content: intentEntry(current, opts.intent, opts.actor, at),
      });
    }
    if (opts.autopilot && !state.autopilot)
      changes.push(stateChange({ ...state, autopilot: true }));
    if (changes.length > 0) {
      await store.commit(operatorCommit(slug, 'intent', `updated by ${opts.actor}`), changes);
    }
    return { store, repoRoot: root, skillPath, created: false };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * What a run needs of the folder it is pointed at, checked without writing anything: inside the
 * repository, holding SKILL.md with valid frontmatter, no uncommitted changes.
 */
export async function checkSkillFolder(
  cwd: string,
  skillDir: string,
): Promise<{ root: string; skillReal: string; skillPath: string; skillName: string }> {
  const root = await repoRoot(cwd);
  const skillAbs = resolve(cwd, skillDir);
  const rel = relative(root, skillAbs);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new StartRunError(`${skillDir} is outside the git repository at ${root}`);
  }
  if (!existsSync(join(skillAbs, 'SKILL.md'))) {
    throw new StartRunError(
      `${rel.split(sep).join('/') || '.'}: no SKILL.md in this folder; point at a skill folder (the one that holds SKILL.md)`,
    );
  }
  // The lexical check above cannot see symlinks: vendor only what really lies in the repository.
  const { abs: skillReal, path: skillPath } = await confinedFolder(root, skillAbs);
  const skill = await loadSkill(skillReal);
  if (await isPathDirty(root, skillPath)) {
    throw new StartRunError(
      `${skillPath} has uncommitted changes; commit or stash them first — a run optimises the committed skill`,
    );
  }
  return { root, skillReal, skillPath, skillName: skill.name };
}

/** intent.md is append-only: each entry says who asked for what, and when. */
export function intentEntry(
  current: string,
  text: string | undefined,
  actor: string,
  at: string,
): string {
  const head =
    current.trim() === ''
      ? '# Intent\n\nWhat the people who started or steered this run asked for.\n'
      : current.trimEnd();
  const body = text?.trim()
    ? text.trim()
    : '(no intent given: optimise the skill for what it says it does)';
  return `${head}\n\n## ${at} — ${actor}\n\n${body}\n`;
}

/** The text of intent.md's newest entry (empty when it has none). */
export function latestIntent(current: string): string {
  const entries = current.split(/^## \d{4}-\d\d-\d\dT\S+ — .*$/m);
  return entries.length < 2 ? '' : (entries.at(-1) ?? '').trim();
}

/** Reads skill folders from the user's repository (for re-vendoring a wrapper's target). */
export function localSkillSource(root: string): SkillSource {
  return {
    async read(repoRelativePath, prefix) {
      const abs = resolve(root, repoRelativePath);
      if (!existsSync(join(abs, 'SKILL.md'))) {
        throw new StartRunError(`${repoRelativePath}: no SKILL.md there, so it cannot be vendored`);
      }
      // A wrapper's target may be reached through a committed symlink: judge its real path.
      return readTree((await confinedFolder(root, repoRelativePath)).abs, prefix);
    },
  };
}
