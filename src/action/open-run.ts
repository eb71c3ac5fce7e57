import { parseSkillMarkdown } from '../bench/skill.js';
import { type AnsweredEvent, answeredChange } from '../chain/answered.js';
import { operatorCommit, RUN_FILES } from '../chain/catalog.js';
import { intentEntry, runSlug } from '../chain/start.js';
import { initialState, readState, stateChange } from '../chain/state.js';
import { PathEscapeError, SkillOptimizerError } from '../errors.js';
import { workBranchName } from '../routing/branch.js';
import { confinedFolder } from '../store/confined-folder.js';
import { runGit } from '../store/git.js';
import { type LocalRunStore, openLocalRun } from '../store/local.js';
import type { FileChange } from '../store/port.js';
import { readTree } from '../store/read-tree.js';
import { PushingRunStore } from './pushing-store.js';
import type { WorkRemote } from './remote.js';

/** The bot identity of the Action's commits. */
export const ACTION_AUTHOR = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com',
} as const;

export interface GitHubRun {
  store: PushingRunStore;
  local: LocalRunStore;
  slug: string;
  branch: string;
  created: boolean;
  close(): Promise<void>;
}

export interface RunPlace {
  repoDir: string;
  remote: WorkRemote;
  runRoot: string;
  /**
   * The comment or review this job acts on (null for a label or a dispatch by hand): every run
   * it opens records it with its first commit, so a redelivery finds it answered.
   */
  answering: AnsweredEvent | null;
  /** Runs after each commit reached GitHub (the tracker update). */
  onPushed?: (branch: string, sha: string) => Promise<void>;
  onRecover?: (message: string) => void;
}

/** The skill's run slug, from SKILL.md at the commit the run vendors. */
export async function slugAt(repoDir: string, sha: string, skillPath: string): Promise<string> {
  const file = `${skillPath === '.' ? '' : `${skillPath}/`}SKILL.md`;
  const shown = await runGit(['show', `${sha}:${file}`], { cwd: repoDir, okCodes: [128] });
  if (shown.exitCode !== 0) {
    const link = await symlinkOnPath(repoDir, sha, file);
    throw link === null
      ? new SkillOptimizerError(`${file}: no SKILL.md at ${sha.slice(0, 12)}`)
      : new PathEscapeError(
          `${file}: ${link} is a symlink at ${sha.slice(0, 12)}; a skill is vendored only from real folders of the repository, never through a link`,
        );
  }
  return runSlug(parseSkillMarkdown(shown.stdout, file).name);
}

/** The first folder on `path` that is a symlink (git mode 120000) at `sha`; null when none is. */
async function symlinkOnPath(repoDir: string, sha: string, path: string): Promise<string | null> {
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i += 1) {
    const prefix = segments.slice(0, i).join('/');
    const listed = await runGit(['ls-tree', sha, '--', prefix], { cwd: repoDir });
    if (listed.stdout.startsWith('120000 ')) return prefix;
  }
  return null;
}

/**
 * Starts (vendoring the skill at `sourceSha`) or resumes the run of one skill of a PR on its work
 * branch; a new branch starts at the skill PR's head, so the chain PR shows only the run dir.
 */
export async function startGitHubRun(
  place: RunPlace,
  opts: {
    pr: number;
    skillPath: string;
    sourceSha: string;
    intent: string | null;
    autopilot: boolean;
    actor: string;
    now: () => Date;
  },
): Promise<GitHubRun> {
  const slug = await slugAt(place.repoDir, opts.sourceSha, opts.skillPath);
  const branch = workBranchName(opts.pr, slug);
  const remoteHead = await place.remote.fetchBranch(branch);
  if (remoteHead === null) {
    await runGit(['branch', '--force', '--no-track', branch, opts.sourceSha], {
      cwd: place.repoDir,
    });
  }
  const run = await openOnBranch(place, slug, branch);
  try {
    const state = await readState(run.store);
    const at = opts.now().toISOString();
    if (state === null) {
      const fresh = initialState({
        slug,
        skillPath: opts.skillPath,
        sourceCommit: opts.sourceSha,
        autopilot: opts.autopilot,
      });
      const changes: FileChange[] = [
        ...(await readTree(
          // The checkout has the PR's symlinks: vendor only what really lies in the repository.
          (
            await confinedFolder(run.local.worktreeDir, opts.skillPath)
          ).abs,
          RUN_FILES.vendored,
        )),
        {
          path: RUN_FILES.intent,
          content: intentEntry('', opts.intent ?? undefined, opts.actor, at),
        },
        stateChange(fresh),
      ];
      await run.store.commit(
        operatorCommit(slug, '00 vendor', `${opts.skillPath} at ${opts.sourceSha.slice(0, 12)}`),
        changes,
      );
      return { ...run, created: true };
    }
    const changes: FileChange[] = [];
    if (opts.intent?.trim()) {
      const current = (await run.store.read(RUN_FILES.intent)) ?? '';
      changes.push({
        path: RUN_FILES.intent,
        content: intentEntry(current, opts.intent, opts.actor, at),
      });
    }
    if (opts.autopilot && !state.autopilot)
      changes.push(stateChange({ ...state, autopilot: true }));
    if (changes.length > 0) {
      await run.store.commit(operatorCommit(slug, 'intent', `updated by ${opts.actor}`), changes);
    }
    return run;
  } catch (error) {
    await run.close();
    throw error;
  }
}

/**
 * A file of the run dir as the work branch on GitHub has it (fetched now), without opening the
 * run; null when the branch or the file does not exist.
 */
export async function readRunFileOnGitHub(
  place: RunPlace,
  opts: { slug: string; branch: string; path: string },
): Promise<string | null> {
  const sha = await place.remote.fetchBranch(opts.branch);
  if (sha === null) return null;
  const shown = await runGit(['show', `${sha}:${place.runRoot}/${opts.slug}/${opts.path}`], {
    cwd: place.repoDir,
    okCodes: [128],
  });
  return shown.exitCode === 0 ? shown.stdout : null;
}

/** Opens an existing run named by the chain PR's tracker (its branch must exist on GitHub). */
export async function resumeGitHubRun(
  place: RunPlace,
  opts: { slug: string; branch: string },
): Promise<GitHubRun> {
  const remoteHead = await place.remote.fetchBranch(opts.branch);
  if (remoteHead === null) {
    throw new SkillOptimizerError(
      `the work branch ${opts.branch} is gone from GitHub; start the run again with /optimize on the skill PR`,
    );
  }
  return openOnBranch(place, opts.slug, opts.branch);
}

async function openOnBranch(place: RunPlace, slug: string, branch: string): Promise<GitHubRun> {
  const local = await openLocalRun({
    repoDir: place.repoDir,
    slug,
    runRoot: place.runRoot,
    branch,
    author: ACTION_AUTHOR,
    ...(place.onRecover ? { onRecover: place.onRecover } : {}),
  });
  const store = new PushingRunStore(local, async (sha) => {
    await place.remote.push(sha, branch);
    await place.onPushed?.(branch, sha);
  });
  if (place.answering !== null) {
    const current = await local.read(RUN_FILES.answered);
    store.rideWithNextCommit(answeredChange(current, place.answering));
  }
  return { store, local, slug, branch, created: false, close: () => local.close() };
}
