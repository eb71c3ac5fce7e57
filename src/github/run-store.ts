import { PathEscapeError, SkillOptimizerError } from '../errors.js';
import type { CommitOptions, FileChange, RunStore } from '../store/port.js';
import { checkSlug, inRunDir, normalizeRelativePath } from '../store/run-path.js';
import { isStaleByOrder } from '../store/staleness.js';
import { checkBranchName } from './branch-name.js';
import type { GitHubClient } from './client.js';
import { GitHubNotFoundError } from './errors.js';
import { commitFiles, getBranchSha } from './git-data.js';
import { readBlob, type TreeEntry, TreeReader } from './git-trees.js';

export interface GitHubRunStoreOptions {
  client: GitHubClient;
  owner: string;
  repo: string;
  branch: string;
  /** Repository-relative, e.g. `.skill-optimizer/keep-a-changelog`. */
  runDir: string;
  slug: string;
  author?: { name: string; email: string };
}

/** A git tree entry that is a symbolic link: its blob is the link's target, not a file. */
const SYMLINK_MODE = '120000';

const FULL_SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The run store on GitHub: the run dir on the work branch, read through the Git Data API and
 * changed by whole commits. The store reads the branch head once and then sees only its own
 * commits, so everything a step reads comes from one commit, and a step's commit expects the
 * branch still to be where the store last saw it: a push in between fails the commit with
 * RefConflictError instead of being overwritten.
 */
export class GitHubRunStore implements RunStore {
  readonly slug: string;
  readonly runDir: string;
  readonly branch: string;
  readonly owner: string;
  readonly repo: string;
  readonly #client: GitHubClient;
  readonly #author: { name: string; email: string } | undefined;
  readonly #trees: TreeReader;
  /** Run-dir files per commit sha (commits never change). */
  readonly #files = new Map<string, Promise<Map<string, TreeEntry>>>();
  #seen: string | null = null;

  constructor(opts: GitHubRunStoreOptions) {
    this.slug = checkSlug(opts.slug);
    this.runDir = normalizeRelativePath(opts.runDir, 'the repository');
    this.branch = checkBranchName(opts.branch);
    this.owner = opts.owner;
    this.repo = opts.repo;
    this.#client = opts.client;
    this.#author = opts.author;
    this.#trees = new TreeReader(opts.client, { owner: opts.owner, repo: opts.repo });
  }

  /** The branch head this store works on: read once, then moved only by its own commits. */
  async head(): Promise<string> {
    if (this.#seen !== null) return this.#seen;
    const sha = await getBranchSha(this.#client, {
      owner: this.owner,
      repo: this.repo,
      branch: this.branch,
    });
    if (sha === null) {
      throw new GitHubNotFoundError(
        `the work branch ${this.branch} of run '${this.slug}' does not exist in ${this.owner}/${this.repo}; start the run again: ${this.#client.retryCommand}`,
        { retry: this.#client.retryCommand },
      );
    }
    this.#seen = sha;
    return sha;
  }

  private relative(path: string, allowBase = false): string {
    return normalizeRelativePath(path, this.runDir, { allowBase });
  }

  private async commitAt(at: string | undefined): Promise<string> {
    if (at === undefined || at === 'HEAD') return this.head();
    if (FULL_SHA.test(at)) return at;
    throw new SkillOptimizerError(`not a commit sha: '${at}'`);
  }

  /** Every file of the run dir at a commit, keyed by its run-dir relative path. */
  private async runFiles(at?: string): Promise<Map<string, TreeEntry>> {
    const commit = await this.commitAt(at);
    const hit = this.#files.get(commit);
    if (hit !== undefined) return hit;
    const load = async (): Promise<Map<string, TreeEntry>> => {
      const root = await this.#trees.rootOf(commit);
      const folder = await this.#trees.entryAt(root, this.runDir);
      if (folder?.type !== 'tree') return new Map<string, TreeEntry>();
      const files = await this.#trees.filesUnder(folder.sha);
      for (const [path, entry] of files) {
        if (entry.mode === SYMLINK_MODE) {
          throw new PathEscapeError(
            `${this.runDir}/${path} at ${commit.slice(0, 12)} on ${this.branch} is a symlink (git mode 120000); a run dir holds only regular files, so remove the link and commit the file itself`,
          );
        }
      }
      return files;
    };
    const promise = load();
    this.#files.set(commit, promise);
    promise.catch(() => this.#files.delete(commit));
    return promise;
  }

  async readBytes(path: string, at?: string): Promise<Buffer | null> {
    const relative = this.relative(path);
    const entry = (await this.runFiles(at)).get(relative);
    if (entry === undefined) return null;
    return readBlob(this.#client, { owner: this.owner, repo: this.repo, sha: entry.sha });
  }

  async read(path: string, at?: string): Promise<string | null> {
    return (await this.readBytes(path, at))?.toString('utf8') ?? null;
  }

  async list(dir: string, at?: string): Promise<string[]> {
    const relative = this.relative(dir, true);
    const prefix = relative === '' ? '' : `${relative}/`;
    return [...(await this.runFiles(at)).keys()].filter((path) => path.startsWith(prefix)).sort();
  }

  async exists(path: string): Promise<boolean> {
    const relative = this.relative(path, true);
    const files = await this.runFiles();
    if (relative === '') return files.size > 0;
    if (files.has(relative)) return true;
    return [...files.keys()].some((file) => file.startsWith(`${relative}/`));
  }

  async commit(message: string, changes: FileChange[], opts: CommitOptions = {}): Promise<string> {
    if (message.trim() === '') throw new SkillOptimizerError('a step commit needs a message');
    const repoChanges: FileChange[] = changes.map((change) =>
      'delete' in change
        ? { path: inRunDir(this.runDir, this.relative(change.path, true)), delete: true }
        : { path: inRunDir(this.runDir, this.relative(change.path)), content: change.content },
    );
    const sha = await commitFiles(this.#client, {
      owner: this.owner,
      repo: this.repo,
      branch: this.branch,
      expectedParent: await this.head(),
      message,
      changes: repoChanges,
      ...(this.#author === undefined ? {} : { author: this.#author }),
      ...(opts.allowEmpty === true ? { allowEmpty: true } : {}),
      trees: this.#trees,
    });
    this.#seen = sha;
    return sha;
  }

  /** Nothing to do: a GitHub store has no files outside its commits. */
  async checkpoint(message: string, _paths?: string[]): Promise<string | null> {
    if (message.trim() === '') throw new SkillOptimizerError('a checkpoint commit needs a message');
    return null;
  }

  /** Newest commit (in branch order, not by date) touching any of the paths, up to the head. */
  async lastCommitTouching(paths: string[]): Promise<string | null> {
    if (paths.length === 0) return null;
    const head = await this.head();
    const found = new Set<string>();
    for (const path of paths) {
      const repoPath = inRunDir(this.runDir, this.relative(path, true));
      const info = {
        action: `read the history of ${repoPath}`,
        owner: this.owner,
        repo: this.repo,
        permission: 'contents: read',
      };
      const { data } = await this.#client.call(info, (octokit) =>
        octokit.request('GET /repos/{owner}/{repo}/commits', {
          owner: this.owner,
          repo: this.repo,
          sha: head,
          path: repoPath,
          per_page: 1,
        }),
      );
      if (data[0] !== undefined) found.add(data[0].sha);
    }
    let newest: string | null = null;
    for (const sha of found) {
      if (newest === null || (await this.isAncestor(newest, sha))) newest = sha;
    }
    return newest;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    const info = {
      action: `compare ${ancestor.slice(0, 12)} with ${descendant.slice(0, 12)}`,
      owner: this.owner,
      repo: this.repo,
      permission: 'contents: read',
    };
    const { data } = await this.#client.call(info, (octokit) =>
      octokit.request('GET /repos/{owner}/{repo}/compare/{basehead}', {
        owner: this.owner,
        repo: this.repo,
        basehead: `${ancestor}...${descendant}`,
        per_page: 1,
      }),
    );
    return data.status === 'ahead' || data.status === 'identical';
  }

  isStale(outputs: string[], inputs: string[]): Promise<boolean> {
    return isStaleByOrder(this, outputs, inputs);
  }

  absolutePath(path: string): string {
    throw new SkillOptimizerError(
      `the run '${this.slug}' lives on GitHub (${this.owner}/${this.repo}, branch ${this.branch}) and has no files on disk, so '${path}' has no local path; read it with read() or list()`,
    );
  }
}
