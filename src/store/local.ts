import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkillOptimizerError } from '../errors.js';
import { redactBytes, redactContent, redactSecrets } from '../text/redact.js';
import { applyChanges, type RepoChange } from './apply-changes.js';
import { type GitObject, ObjectReader } from './cat-file.js';
import { CommitFailedError, DirtyRunDirError, NothingToCommitError } from './errors.js';
import { GitError, type GitOptions, type GitResult, runGit } from './git.js';
import { BranchHistory } from './history.js';
import { acquireRunLock, type RunLock } from './lock.js';
import type { CommitOptions, FileChange, RunStore } from './port.js';
import { recoverInterruptedStep, removeStaleIndexLock } from './recover.js';
import {
  branchExists,
  checkBranchName,
  gitCommonDir,
  repoRoot,
  requireHeadCommit,
} from './repo.js';
import { checkSlug, inRunDir, normalizeRelativePath } from './run-path.js';
import { isStaleByOrder } from './staleness.js';
import { ensureWorktree, NO_HOOKS, restoreToHead, uncommittedPaths } from './worktree.js';

export const DEFAULT_AUTHOR = {
  name: 'Skill Optimizer',
  email: 'skill-optimizer@users.noreply.github.com',
} as const;

export interface OpenLocalRunOptions {
  /** Any folder inside the user's repository. */
  repoDir: string;
  slug: string;
  /** Repository-relative folder holding run dirs; default `.skill-optimizer`. */
  runRoot?: string;
  /** Default `skill-optimizer/<slug>`. */
  branch?: string;
  author?: { name: string; email: string };
  /** Told about anything put right on open: a stale lock taken over, an interrupted step undone. */
  onRecover?: (message: string) => void;
  /** Test seam: runs once a commit's changes are in the work tree and index, before `git commit`. */
  beforeCommit?: () => void | Promise<void>;
  now?: () => Date;
}

interface LocalRunContext {
  slug: string;
  runDir: string;
  branch: string;
  worktreeDir: string;
  toolDir: string;
  identity: Record<string, string>;
  lock: RunLock;
  beforeCommit: (() => void | Promise<void>) | undefined;
}

/** The run store in a git worktree of the user's repository that only the tool uses. */
/** Only HEAD or a full commit sha may name a revision (never an option or a range). */
function checkRevision(at: string): string {
  if (at === 'HEAD' || /^[0-9a-f]{40}$/.test(at)) return at;
  throw new SkillOptimizerError(`not a commit sha: '${at}'`);
}

export class LocalRunStore implements RunStore {
  readonly slug: string;
  readonly runDir: string;
  readonly branch: string;
  readonly worktreeDir: string;
  private readonly ctx: LocalRunContext;
  private readonly objects: ObjectReader;
  private readonly names: ObjectReader;
  private readonly history: BranchHistory;
  private closed = false;

  constructor(ctx: LocalRunContext) {
    this.ctx = ctx;
    this.slug = ctx.slug;
    this.runDir = ctx.runDir;
    this.branch = ctx.branch;
    this.worktreeDir = ctx.worktreeDir;
    this.objects = new ObjectReader(ctx.worktreeDir);
    this.names = new ObjectReader(ctx.worktreeDir, { headersOnly: true });
    this.history = new BranchHistory(this.objects, this.names, (args, opts) =>
      this.git(args, opts),
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new SkillOptimizerError(`the run store of '${this.slug}' is closed`);
  }

  private git(args: readonly string[], opts: Omit<GitOptions, 'cwd'> = {}): Promise<GitResult> {
    if (this.closed) {
      return Promise.reject(new SkillOptimizerError(`the run store of '${this.slug}' is closed`));
    }
    return runGit(args, { cwd: this.worktreeDir, ...opts });
  }

  private repoPath(path: string, allowBase = false): string {
    return inRunDir(this.runDir, normalizeRelativePath(path, this.runDir, { allowBase }));
  }

  /** What HEAD (or `at`) holds at a repository path: its object id, type and bytes. */
  private lookup(repoPath: string, at = 'HEAD'): Promise<GitObject | null> {
    if (this.closed) {
      return Promise.reject(new SkillOptimizerError(`the run store of '${this.slug}' is closed`));
    }
    return this.objects.read(checkRevision(at), repoPath);
  }

  /** Whether HEAD holds anything at a repository path, without reading its bytes. */
  private async present(repoPath: string): Promise<boolean> {
    this.checkOpen();
    return (await this.names.read('HEAD', repoPath)) !== null;
  }

  async readBytes(path: string, at?: string): Promise<Buffer | null> {
    const found = await this.lookup(this.repoPath(path), at);
    return found?.type === 'blob' ? found.content : null;
  }

  async read(path: string, at?: string): Promise<string | null> {
    return (await this.readBytes(path, at))?.toString('utf8') ?? null;
  }

  /** Read from the folder's tree object through the pipe; a tree's list is kept by its id. */
  async list(dir: string, at = 'HEAD'): Promise<string[]> {
    const folder = this.repoPath(dir, true);
    this.checkOpen();
    const tree = await this.names.read(checkRevision(at), folder);
    if (tree === null || tree.type !== 'tree') return [];
    const local = folder.slice(this.runDir.length + 1);
    const base = local === '' ? '' : `${local}/`;
    return (await this.history.filesUnder(tree.oid)).map((path) => `${base}${path}`).sort();
  }

  async exists(path: string): Promise<boolean> {
    return this.present(this.repoPath(path, true));
  }

  async head(): Promise<string> {
    this.checkOpen();
    return this.history.head();
  }

  async lastCommitTouching(paths: string[]): Promise<string | null> {
    if (paths.length === 0) return null;
    const specs = paths.map((path) => this.repoPath(path, true));
    return this.history.lastCommitTouching(await this.head(), specs);
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    this.checkOpen();
    return this.history.isAncestor(ancestor, descendant);
  }

  isStale(outputs: string[], inputs: string[]): Promise<boolean> {
    return isStaleByOrder(this, outputs, inputs);
  }

  absolutePath(path: string): string {
    return join(this.worktreeDir, ...this.repoPath(path, true).split('/'));
  }

  /** Every commit the store makes goes through here: its message is redacted (text/redact.ts). */
  private gitCommit(message: string, extra: readonly string[]): Promise<GitResult> {
    return this.git(
      [
        ...NO_HOOKS,
        '-c',
        'commit.gpgsign=false',
        // `git commit` would start `git maintenance run --auto` after each step's commit.
        '-c',
        'maintenance.auto=false',
        '--literal-pathspecs',
        'commit',
        '--quiet',
        '--no-verify',
        '--cleanup=whitespace',
        '-F',
        '-',
        ...extra,
      ],
      { input: redactSecrets(message), env: this.ctx.identity },
    );
  }

  /**
   * `git add --all --force` for the paths that exist on disk or at HEAD (git refuses a pathspec
   * matching nothing), ignored files included: the run dir belongs to the tool. Returns those paths.
   */
  private async stage(specs: readonly string[]): Promise<string[]> {
    const present: string[] = [];
    for (const spec of specs) {
      const onDisk = existsSync(join(this.worktreeDir, ...spec.split('/')));
      if (onDisk || (await this.present(spec))) present.push(spec);
    }
    if (present.length > 0) {
      await this.git(['--literal-pathspecs', 'add', '--all', '--force', '--', ...present]);
    }
    return present;
  }

  /** True when the index differs from HEAD. */
  private async indexDiffers(): Promise<boolean> {
    const args = ['diff-index', '--cached', '--quiet', 'HEAD'];
    return (await this.git(args, { okCodes: [1] })).exitCode === 1;
  }

  /** Written files are redacted (text/redact.ts) before they reach the work tree or a commit. */
  async commit(message: string, changes: FileChange[], opts: CommitOptions = {}): Promise<string> {
    if (message.trim() === '') throw new SkillOptimizerError('a step commit needs a message');
    const allowEmpty = opts.allowEmpty === true;
    const repoChanges: RepoChange[] = changes.map((change) =>
      'delete' in change
        ? { path: this.repoPath(change.path, true), delete: true }
        : { path: this.repoPath(change.path), content: redactContent(change.content) },
    );
    if (repoChanges.length === 0 && !allowEmpty) {
      throw new NothingToCommitError(
        `nothing to commit for '${message.split('\n')[0]}': no changes given`,
      );
    }
    const dirty = await uncommittedPaths(this.worktreeDir, this.runDir);
    if (dirty.length > 0) {
      throw new DirtyRunDirError(
        `the run's work tree ${this.worktreeDir} has uncommitted changes (${dirty.slice(0, 5).join(', ')}); commit them there or discard them (git -C ${this.worktreeDir} reset --hard && git -C ${this.worktreeDir} clean -fdx -- ${this.runDir}) and retry`,
      );
    }
    const before = await this.head();
    const stagingRoot = join(this.ctx.toolDir, 'staging');
    await mkdir(stagingRoot, { recursive: true });
    const staging = await mkdtemp(join(stagingRoot, `${this.slug}-`));
    try {
      let failure: unknown = null;
      try {
        await applyChanges(this.worktreeDir, staging, repoChanges);
        await this.stage([this.runDir]);
        await this.ctx.beforeCommit?.();
        await this.gitCommit(message, allowEmpty ? ['--allow-empty'] : []).catch(
          async (error: unknown) => {
            // `git commit` exits 1 when the index equals HEAD; asked only then, to save a process.
            const unchanged =
              !allowEmpty &&
              error instanceof GitError &&
              error.exitCode === 1 &&
              !(await this.indexDiffers());
            if (!unchanged) throw error;
            throw new NothingToCommitError(
              `nothing to commit for '${message.split('\n')[0]}': the changes leave ${this.runDir} as it is`,
            );
          },
        );
      } catch (error) {
        failure = error;
      }
      const after = await this.head();
      const problem = failure === null ? await this.landedWhole(before, after) : null;
      if (failure === null && problem === null) {
        this.history.recordCommit(after, before);
        return after;
      }
      await this.rollBack(before, after, failure ?? problem);
      throw (
        failure ??
        new CommitFailedError(
          `the step commit did not land whole (${problem}); the run is back at ${before.slice(0, 12)}`,
        )
      );
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Null when `after` is one new commit on `before` and nothing under the run dir is left over. */
  private async landedWhole(before: string, after: string): Promise<string | null> {
    if (after === before) return 'no commit was made';
    const parents = await this.history.parents(after);
    if (parents.length !== 1 || parents[0] !== before)
      return `the new commit ${after.slice(0, 12)} does not follow ${before.slice(0, 12)}`;
    const left = await uncommittedPaths(this.worktreeDir, this.runDir);
    if (left.length > 0) return `files were left out of the commit: ${left.slice(0, 5).join(', ')}`;
    return null;
  }

  private async rollBack(before: string, after: string, cause: unknown): Promise<void> {
    try {
      if (after !== before) {
        const parent = await this.git(['rev-parse', '--verify', '--quiet', `${after}^1`], {
          okCodes: [1],
        });
        if (parent.stdout.trim() === before) await this.git(['reset', '--hard', '--quiet', before]);
      }
      await restoreToHead(this.worktreeDir, this.runDir);
    } catch (restoreError) {
      const why = cause instanceof Error ? cause.message : String(cause);
      const how = restoreError instanceof Error ? restoreError.message : String(restoreError);
      throw new CommitFailedError(
        `the step commit failed (${why}) and the work tree could not be put back (${how}); restore it with git -C ${this.worktreeDir} reset --hard ${before} && git -C ${this.worktreeDir} clean -fdx -- ${this.runDir}`,
        { cause: restoreError },
      );
    }
  }

  async checkpoint(message: string, paths: string[] = ['']): Promise<string | null> {
    if (message.trim() === '') throw new SkillOptimizerError('a checkpoint commit needs a message');
    const specs = paths.map((path) => this.repoPath(path, true));
    if (specs.length === 0) return null;
    const before = await this.head();
    const present = await this.stage(specs);
    const staged = present.length === 0 ? [] : await this.stagedChanges(present);
    if (staged.length === 0) return null;
    try {
      await this.redactStaged(staged);
      await this.gitCommit(message, ['--', ...present]);
    } catch (error) {
      // Unstage (keeping the files) so the work tree is exactly as the caller left it.
      await this.git(['reset', '--quiet']);
      throw error;
    }
    const after = await this.head();
    const parents = await this.history.parents(after);
    if (parents.length === 1 && parents[0] === before) this.history.recordCommit(after, before);
    return after;
  }

  /** What the index changes under `paths` since HEAD: each path with its status letter. */
  private async stagedChanges(
    paths: readonly string[],
  ): Promise<Array<{ status: string; path: string }>> {
    const diff = await this.git([
      '--literal-pathspecs',
      'diff',
      '--cached',
      '--name-status',
      '--no-renames',
      '-z',
      'HEAD',
      '--',
      ...paths,
    ]);
    const fields = diff.stdout.split('\0');
    const changes: Array<{ status: string; path: string }> = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      changes.push({ status: fields[i] ?? '', path: fields[i + 1] ?? '' });
    }
    return changes;
  }

  /**
   * Files staged that are new or changed since HEAD (written by hand or by a tool, not through
   * commit()), rewritten on disk with their secrets redacted and staged again.
   */
  private async redactStaged(
    staged: ReadonlyArray<{ status: string; path: string }>,
  ): Promise<void> {
    const rewritten: string[] = [];
    const changed = staged.filter((c) => c.status === 'A' || c.status === 'M').map((c) => c.path);
    for (const path of changed) {
      const file = join(this.worktreeDir, ...path.split('/'));
      if (!(await lstat(file)).isFile()) continue;
      const bytes = await readFile(file);
      const clean = redactBytes(bytes);
      if (clean === bytes) continue;
      await writeFile(file, clean);
      rewritten.push(path);
    }
    if (rewritten.length > 0) {
      await this.git(['--literal-pathspecs', 'add', '--force', '--', ...rewritten]);
    }
  }

  /** Releases the run's lock; the worktree stays for the next run. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.objects.close();
    this.names.close();
    await this.ctx.lock.release();
  }
}

/**
 * Opens (creating if needed) the run of `slug` in the repository at `repoDir`: takes the run's
 * lock, checks the work branch out in the tool's own worktree under the repository's git folder
 * (the user's checkout is never switched), and undoes any half-written step.
 */
export async function openLocalRun(opts: OpenLocalRunOptions): Promise<LocalRunStore> {
  const slug = checkSlug(opts.slug);
  const runRoot = normalizeRelativePath(opts.runRoot ?? '.skill-optimizer', 'the repository');
  const branch = opts.branch ?? `skill-optimizer/${slug}`;
  const root = await repoRoot(opts.repoDir);
  await checkBranchName(root, branch);
  const toolDir = join(await gitCommonDir(root), 'skill-optimizer');
  const worktreeDir = join(toolDir, 'worktrees', slug);
  await mkdir(join(toolDir, 'worktrees'), { recursive: true });
  const onRecover = opts.onRecover ?? (() => {});
  const lock = await acquireRunLock(`${worktreeDir}.lock`, {
    slug,
    onRecover,
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  try {
    const author = opts.author ?? DEFAULT_AUTHOR;
    const ctx: LocalRunContext = {
      slug,
      runDir: `${runRoot}/${slug}`,
      branch,
      worktreeDir,
      toolDir,
      identity: {
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_COMMITTER_NAME: author.name,
        GIT_COMMITTER_EMAIL: author.email,
      },
      lock,
      beforeCommit: opts.beforeCommit,
    };
    const startPoint = (await branchExists(root, branch)) ? branch : await requireHeadCommit(root);
    await ensureWorktree({ root, dir: worktreeDir, branch, startPoint });
    if (lock.tookOverFrom !== null) {
      const removed = await removeStaleIndexLock(worktreeDir);
      if (removed !== null) onRecover(`run '${slug}': removed ${removed} left by the dead process`);
    }
    await recoverInterruptedStep(
      { slug, runDir: ctx.runDir, worktreeDir, scratchDir: join(toolDir, 'staging') },
      ctx.identity,
      onRecover,
    );
    return new LocalRunStore(ctx);
  } catch (error) {
    await lock.release();
    throw error;
  }
}
