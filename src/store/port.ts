/**
 * The run state store as the chain sees it: a run dir on a work branch, read from the branch's
 * newest commit and changed only by whole commits. Local mode keeps it in a git worktree; a
 * GitHub mode can implement the same port with the Git Data API.
 *
 * All paths are relative to the run dir and '/'-separated; '' (or '.') names the run dir itself.
 */

/** Write a file (creating folders as needed) or delete a file or a whole folder. */
export type FileChange =
  | { path: string; content: string | Buffer }
  | { path: string; delete: true };

export interface CommitOptions {
  /** Record a commit even when the changes leave every file as it was. */
  allowEmpty?: boolean;
}

export interface RunStore {
  readonly slug: string;
  /** Repository-relative, e.g. `.skill-optimizer/keep-a-changelog`. */
  readonly runDir: string;
  /** e.g. `skill-optimizer/keep-a-changelog`. */
  readonly branch: string;

  /**
   * The file's text at the branch head, or at an earlier commit `at` (a full sha from this
   * branch's history); null when there is no such file.
   */
  read(path: string, at?: string): Promise<string | null>;
  readBytes(path: string, at?: string): Promise<Buffer | null>;
  /** Every file under a folder, recursively, sorted, run-dir relative; [] for a missing folder. */
  list(dir: string, at?: string): Promise<string[]>;
  /** True for a file, or a folder holding at least one file. */
  exists(path: string): Promise<boolean>;

  /**
   * Applies every change and records them as one commit, or changes nothing and throws.
   * Throws NothingToCommitError when the changes leave the run dir as it was, unless allowEmpty.
   * Returns the new commit's sha.
   */
  commit(message: string, changes: FileChange[], opts?: CommitOptions): Promise<string>;
  /**
   * Commits whatever state of these paths (default: the whole run dir) is not yet on the branch,
   * so a maintenance rewrite has a clean before/after. Null when there was nothing to commit.
   */
  checkpoint(message: string, paths?: string[]): Promise<string | null>;

  head(): Promise<string>;
  /** Newest commit on the work branch that touched any of the paths (files or folders). */
  lastCommitTouching(paths: string[]): Promise<string | null>;
  /** True when `ancestor` is `descendant` or comes before it in the branch's history. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /**
   * True when an output is missing, or some input was changed by a commit that comes after the
   * last commit of the outputs (commit order, not timestamps). False when inputs were never committed.
   */
  isStale(outputs: string[], inputs: string[]): Promise<boolean>;

  /** Where the file lives on disk, for running tools on it. Stores without a disk may throw. */
  absolutePath(path: string): string;
}
