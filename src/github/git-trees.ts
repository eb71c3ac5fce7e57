import type { GitHubClient } from './client.js';
import { GitHubRequestError } from './errors.js';

export interface TreeEntry {
  /** The entry's name (in a listing: its path under the tree that was listed). */
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
}

interface RepoRef {
  owner: string;
  repo: string;
}

function readInfo(args: RepoRef, what: string) {
  return {
    action: `read ${what}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'contents: read',
  };
}

/** A blob's bytes, by sha. */
export async function readBlob(
  client: GitHubClient,
  args: RepoRef & { sha: string },
): Promise<Buffer> {
  const { data } = await client.call(readInfo(args, `blob ${args.sha.slice(0, 12)}`), (octokit) =>
    octokit.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', {
      owner: args.owner,
      repo: args.repo,
      file_sha: args.sha,
    }),
  );
  return data.encoding === 'base64'
    ? Buffer.from(data.content, 'base64')
    : Buffer.from(data.content, 'utf8');
}

/**
 * Reads git trees through the Git Data API. Trees and commits never change under a sha, so every
 * answer is cached for the reader's lifetime.
 */
export class TreeReader {
  readonly #client: GitHubClient;
  readonly #repo: RepoRef;
  readonly #roots = new Map<string, Promise<string>>();
  readonly #trees = new Map<string, Promise<TreeEntry[]>>();
  readonly #listings = new Map<string, Promise<Map<string, TreeEntry>>>();

  constructor(client: GitHubClient, repo: RepoRef) {
    this.#client = client;
    this.#repo = { owner: repo.owner, repo: repo.repo };
  }

  /**
   * The sha of a commit's root tree. Read as the tree the commit names (GitHub's trees endpoint
   * takes a commit or a ref as well as a tree), so the root's listing comes with it and a walk
   * from the root starts without another request.
   */
  rootOf(commitSha: string): Promise<string> {
    return cached(this.#roots, commitSha, async () => {
      const listed = await this.#list(
        commitSha,
        false,
        `the tree of commit ${commitSha.slice(0, 12)}`,
      );
      if (!this.#trees.has(listed.sha))
        this.#trees.set(listed.sha, Promise.resolve(listed.entries));
      return listed.sha;
    });
  }

  /** The entry at a '/'-separated path under a tree, walking one folder at a time; null if absent. */
  async entryAt(treeSha: string, path: string): Promise<TreeEntry | null> {
    let current: TreeEntry = { path: '', mode: '040000', type: 'tree', sha: treeSha };
    for (const name of path.split('/').filter((segment) => segment !== '')) {
      if (current.type !== 'tree') return null;
      const next = (await this.entries(current.sha, false)).find((entry) => entry.path === name);
      if (next === undefined) return null;
      current = next;
    }
    return current;
  }

  /** Every file (blob) under a tree, recursively, keyed by its path under that tree. */
  filesUnder(treeSha: string): Promise<Map<string, TreeEntry>> {
    return cached(this.#listings, treeSha, async () => {
      const files = new Map<string, TreeEntry>();
      for (const entry of await this.entries(treeSha, true)) {
        if (entry.type === 'blob') files.set(entry.path, entry);
      }
      return files;
    });
  }

  private entries(treeSha: string, recursive: boolean): Promise<TreeEntry[]> {
    return cached(this.#trees, `${treeSha}${recursive ? ':r' : ''}`, async () => {
      const listed = await this.#list(treeSha, recursive, `tree ${treeSha.slice(0, 12)}`);
      return listed.entries;
    });
  }

  /** One listing: the tree's own sha (a commit names its root tree) and its entries. */
  async #list(
    treeish: string,
    recursive: boolean,
    what: string,
  ): Promise<{ sha: string; entries: TreeEntry[] }> {
    const { data } = await this.#client.call(readInfo(this.#repo, what), (octokit) =>
      octokit.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', {
        ...this.#repo,
        tree_sha: treeish,
        ...(recursive ? { recursive: '1' } : {}),
      }),
    );
    if (data.truncated) {
      throw new GitHubRequestError(
        `the git tree ${treeish.slice(0, 12)} in ${this.#repo.owner}/${this.#repo.repo} is too large for GitHub to list in one answer; keep fewer files in the run dir`,
      );
    }
    const entries = data.tree.flatMap((entry): TreeEntry[] => {
      const { path, mode, type, sha } = entry;
      if (path === undefined || mode === undefined || sha === undefined) return [];
      if (type !== 'blob' && type !== 'tree' && type !== 'commit') return [];
      return [{ path, mode, type, sha }];
    });
    return { sha: data.sha, entries };
  }
}

/** Memoises a promise by key; a failed lookup is forgotten so a later call can try again. */
function cached<T>(
  cache: Map<string, Promise<T>>,
  key: string,
  load: () => Promise<T>,
): Promise<T> {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const promise = load();
  cache.set(key, promise);
  promise.catch(() => cache.delete(key));
  return promise;
}
