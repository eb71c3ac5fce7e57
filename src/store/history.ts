import { SkillOptimizerError } from '../errors.js';
import type { ObjectReader } from './cat-file.js';
import type { GitOptions, GitResult } from './git.js';
import { parseCommitParents, parseTree, TREE_MODE } from './git-objects.js';

type Git = (args: readonly string[], opts?: Omit<GitOptions, 'cwd'>) => Promise<GitResult>;

const FULL_OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * What the store asks of its branch's history, answered through the long-lived `cat-file`
 * readers instead of a git process per question. Git objects never change, so answers keyed by
 * object ids are kept: a tree's file list, and the answers git itself gave for commits older
 * than the store. The commits this store made (one parent each, checked when they landed) are
 * walked in memory, so a staleness check costs pipe round trips, not `git log` / `merge-base`.
 */
export class BranchHistory {
  /** Commits this store made, each with its only parent. */
  private readonly parentOf = new Map<string, string>();
  /** The parent of the store's first commit: it existed before any commit of the store. */
  private olderThanOwn: string | null = null;
  private readonly treeFiles = new Map<string, Promise<string[]>>();
  private readonly lastTouch = new Map<string, Promise<string | null>>();
  private readonly ancestry = new Map<string, Promise<boolean>>();

  constructor(
    private readonly objects: ObjectReader,
    private readonly names: ObjectReader,
    private readonly git: Git,
  ) {}

  /** The commit HEAD points at, read through the pipe. */
  async head(): Promise<string> {
    const found = await this.names.readSpec('HEAD^{commit}');
    if (found === null) throw new SkillOptimizerError("the run's worktree has no HEAD commit");
    return found.oid;
  }

  async parents(commit: string): Promise<string[]> {
    const found = await this.objects.readSpec(`${commit}^{commit}`);
    if (found === null)
      throw new SkillOptimizerError(`not a commit of the run's branch: ${commit}`);
    return parseCommitParents(found.content);
  }

  /** Remembers a commit this store made on `parent` (the caller checked it is the only parent). */
  recordCommit(commit: string, parent: string): void {
    if (this.parentOf.size === 0) this.olderThanOwn = parent;
    this.parentOf.set(commit, parent);
  }

  /** Every non-tree path under a tree, relative to it, in tree order. */
  filesUnder(treeOid: string): Promise<string[]> {
    let files = this.treeFiles.get(treeOid);
    if (files === undefined) {
      files = this.listTree(treeOid);
      this.treeFiles.set(treeOid, files);
      files.catch(() => this.treeFiles.delete(treeOid));
    }
    return files;
  }

  private async listTree(treeOid: string): Promise<string[]> {
    const found = await this.objects.readSpec(treeOid);
    if (found === null || found.type !== 'tree') {
      throw new SkillOptimizerError(`git object ${treeOid} is missing or not a tree`);
    }
    const entries = parseTree(found.content, treeOid);
    const nested = await Promise.all(
      entries.map(async (entry) =>
        entry.mode === TREE_MODE
          ? (await this.filesUnder(entry.oid)).map((path) => `${entry.name}/${path}`)
          : [entry.name],
      ),
    );
    return nested.flat();
  }

  /**
   * Like `git log -1 --format=%H <head> -- <paths>` with literal pathspecs: walks back the
   * store's own commits comparing each path's object id with the parent's, then asks git once
   * for the older history (cached: it never changes). A change of file mode alone, which keeps
   * the blob id, is seen only when the path is a folder; the store never changes modes.
   */
  async lastCommitTouching(head: string, paths: readonly string[]): Promise<string | null> {
    let commit = head;
    for (let parent = this.parentOf.get(commit); parent !== undefined; ) {
      if (await this.touches(commit, parent, paths)) return commit;
      commit = parent;
      parent = this.parentOf.get(commit);
    }
    return this.askGitLastTouch(commit, paths);
  }

  private async touches(
    commit: string,
    parent: string,
    paths: readonly string[],
  ): Promise<boolean> {
    const ids = await Promise.all(
      paths.flatMap((path) => [
        this.names.read(commit, path).then((o) => o?.oid ?? null),
        this.names.read(parent, path).then((o) => o?.oid ?? null),
      ]),
    );
    for (let i = 0; i < ids.length; i += 2) if (ids[i] !== ids[i + 1]) return true;
    return false;
  }

  private askGitLastTouch(commit: string, paths: readonly string[]): Promise<string | null> {
    const key = [commit, ...paths].join('\0');
    let answer = this.lastTouch.get(key);
    if (answer === undefined) {
      answer = this.git([
        '--literal-pathspecs',
        'log',
        '-1',
        '--format=%H',
        commit,
        '--',
        ...paths,
      ]).then((result) => result.stdout.trim() || null);
      this.lastTouch.set(key, answer);
      answer.catch(() => this.lastTouch.delete(key));
    }
    return answer;
  }

  /**
   * Like `git merge-base --is-ancestor`: walks back the store's own commits from `descendant`,
   * then asks git (cached when both are object ids, whose answer never changes).
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant && this.parentOf.has(descendant)) return true;
    let commit = descendant;
    for (let parent = this.parentOf.get(commit); parent !== undefined; ) {
      if (parent === ancestor) return true;
      commit = parent;
      parent = this.parentOf.get(commit);
    }
    // A commit older than all of the store's has none of them among its ancestors.
    if (commit === this.olderThanOwn && this.parentOf.has(ancestor)) return false;
    const ask = () =>
      this.git(['merge-base', '--is-ancestor', ancestor, commit], { okCodes: [1] }).then(
        (result) => result.exitCode === 0,
      );
    if (!FULL_OID.test(ancestor) || !FULL_OID.test(commit)) return ask();
    const key = `${ancestor}\0${commit}`;
    let answer = this.ancestry.get(key);
    if (answer === undefined) {
      answer = ask();
      this.ancestry.set(key, answer);
      answer.catch(() => this.ancestry.delete(key));
    }
    return answer;
  }
}
