import type { CommitOptions, FileChange, RunStore } from '../store/port.js';

/**
 * The run store of the Action: the local store in the checkout, with every commit published to
 * the work branch on GitHub right after it lands. Reads, staleness and the bench stay on disk;
 * GitHub holds the same commits (same shas), so a gate's pinned sha is the one reviewers see.
 */
export class PushingRunStore implements RunStore {
  readonly slug: string;
  readonly runDir: string;
  readonly branch: string;
  #riders: FileChange[] = [];

  constructor(
    private readonly inner: RunStore,
    private readonly publish: (sha: string) => Promise<void>,
  ) {
    this.slug = inner.slug;
    this.runDir = inner.runDir;
    this.branch = inner.branch;
  }

  read(path: string, at?: string): Promise<string | null> {
    return this.inner.read(path, at);
  }
  readBytes(path: string, at?: string): Promise<Buffer | null> {
    return this.inner.readBytes(path, at);
  }
  list(dir: string, at?: string): Promise<string[]> {
    return this.inner.list(dir, at);
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }
  head(): Promise<string> {
    return this.inner.head();
  }
  lastCommitTouching(paths: string[]): Promise<string | null> {
    return this.inner.lastCommitTouching(paths);
  }
  isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return this.inner.isAncestor(ancestor, descendant);
  }
  isStale(outputs: string[], inputs: string[]): Promise<boolean> {
    return this.inner.isStale(outputs, inputs);
  }
  absolutePath(path: string): string {
    return this.inner.absolutePath(path);
  }

  /**
   * Adds `change` to the next commit, whatever it is: bookkeeping that must land with the job's
   * first real change and never move the branch on its own (a gate is pinned to the head).
   */
  rideWithNextCommit(change: FileChange): void {
    this.#riders = [...this.#riders.filter((c) => c.path !== change.path), change];
  }

  async commit(message: string, changes: FileChange[], opts?: CommitOptions): Promise<string> {
    const riders = this.#riders.filter((r) => !changes.some((c) => c.path === r.path));
    const sha = await this.inner.commit(message, [...changes, ...riders], opts);
    this.#riders = [];
    await this.publish(sha);
    return sha;
  }

  async checkpoint(message: string, paths?: string[]): Promise<string | null> {
    const sha = await this.inner.checkpoint(message, paths);
    if (sha !== null) await this.publish(sha);
    return sha;
  }
}
