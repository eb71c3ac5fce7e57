import { SkillOptimizerError } from '../errors.js';
import { NothingToCommitError } from '../store/errors.js';
import type { FileChange } from '../store/port.js';
import { normalizeRelativePath } from '../store/run-path.js';
import { redactContent, redactSecrets } from '../text/redact.js';
import { checkBranchName } from './branch-name.js';
import type { GitHubClient } from './client.js';
import { BranchExistsError, hasStatus, RefConflictError } from './errors.js';
import { TreeReader } from './git-trees.js';

interface RepoRef {
  owner: string;
  repo: string;
}

const SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

function checkSha(sha: string, what: string): string {
  if (!SHA.test(sha)) throw new SkillOptimizerError(`${what} is not a full commit sha: '${sha}'`);
  return sha;
}

/** The commit a branch points at; null when there is no such branch. */
export async function getBranchSha(
  client: GitHubClient,
  args: RepoRef & { branch: string },
): Promise<string | null> {
  const ref = `heads/${checkBranchName(args.branch)}`;
  const info = {
    action: `read the branch ${args.branch}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'contents: read',
  };
  return client.call(info, async (octokit) => {
    try {
      const { data } = await octokit.request('GET /repos/{owner}/{repo}/git/ref/{ref}', {
        owner: args.owner,
        repo: args.repo,
        ref,
      });
      return data.object.sha;
    } catch (error) {
      if (hasStatus(error, 404)) return null;
      throw error;
    }
  });
}

/** Creates `branch` at `sha`; BranchExistsError when it is already there. */
export async function createBranch(
  client: GitHubClient,
  args: RepoRef & { branch: string; sha: string },
): Promise<void> {
  const ref = `refs/heads/${checkBranchName(args.branch)}`;
  const sha = checkSha(args.sha, 'the start of the new branch');
  const info = {
    action: `create the branch ${args.branch}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'contents: write',
  };
  await client.call(info, async (octokit) => {
    try {
      await octokit.request('POST /repos/{owner}/{repo}/git/refs', {
        owner: args.owner,
        repo: args.repo,
        ref,
        sha,
      });
    } catch (error) {
      if (hasStatus(error, 422) && /already exists/i.test(error.message)) {
        throw new BranchExistsError(
          `the branch ${args.branch} already exists in ${args.owner}/${args.repo}`,
        );
      }
      throw error;
    }
  });
}

export interface CommitFilesArgs extends RepoRef {
  branch: string;
  /** The commit the branch must still point at; the new commit's only parent. */
  expectedParent: string;
  message: string;
  /** Repository-relative paths; a delete may name a folder (every file under it goes). */
  changes: FileChange[];
  author?: { name: string; email: string };
  /** Record the commit even when the tree does not change. */
  allowEmpty?: boolean;
  /** Share a reader (and its cache) with the caller. */
  trees?: TreeReader;
  /**
   * The caller has just read or created the branch at `expectedParent`, so it is not read again;
   * the fast-forward-only move at the end still refuses a branch that moved on meanwhile.
   */
  parentJustRead?: boolean;
}

type FileMode = '100644' | '100755' | '120000';

function fileMode(mode: string): FileMode {
  return mode === '100755' || mode === '120000' ? mode : '100644';
}

type TreeWrite =
  | { path: string; mode: FileMode; type: 'blob'; sha: string | null }
  | { path: string; mode: '100644'; type: 'blob'; content: string };

/**
 * One commit of `changes` on top of `expectedParent`, then a fast-forward of `branch` to it
 * (`force: false`). Text goes inline in the tree, bytes as base64 blobs. If the branch is not at
 * `expectedParent` (before or while committing) this throws RefConflictError and the branch is
 * left as whoever moved it left it: nothing is ever force-pushed. Returns the new commit's sha.
 * The message and every file's content are redacted (text/redact.ts) before anything is sent.
 */
export async function commitFiles(client: GitHubClient, args: CommitFilesArgs): Promise<string> {
  const branch = checkBranchName(args.branch);
  const parent = checkSha(args.expectedParent, 'the expected parent');
  const message = redactSecrets(args.message);
  const subject = message.split('\n')[0] ?? '';
  if (message.trim() === '') throw new SkillOptimizerError('a commit needs a message');
  const changes: FileChange[] = args.changes.map((change) =>
    'delete' in change
      ? { ...change, path: normalizeRelativePath(change.path, 'the repository') }
      : {
          path: normalizeRelativePath(change.path, 'the repository'),
          content: redactContent(change.content),
        },
  );
  if (changes.length === 0 && args.allowEmpty !== true) {
    throw new NothingToCommitError(`nothing to commit for '${subject}': no changes given`);
  }
  const repo = { owner: args.owner, repo: args.repo };
  const write = (action: string) => ({ action, ...repo, permission: 'contents: write' });
  const conflict = (now: string | null) =>
    new RefConflictError(
      `the branch ${branch} moved while committing '${subject}': it was expected at ${parent.slice(0, 12)} but ${now === null ? 'is no longer at that commit' : `is now at ${now.slice(0, 12)}`} (someone pushed to it or deleted it). Nothing was overwritten and this step was not committed; try again: ${client.retryCommand}`,
      { retry: client.retryCommand },
    );

  if (args.parentJustRead !== true) {
    const current = await getBranchSha(client, { ...repo, branch });
    if (current !== parent) throw conflict(current);
  }

  const trees = args.trees ?? new TreeReader(client, repo);
  const baseTree = await trees.rootOf(parent);
  const entries = await planTree(trees, baseTree, changes);
  const tree = await client.call(write('write blobs and a tree'), async (octokit) => {
    const writes: TreeWrite[] = [];
    for (const [path, next] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (next.kind === 'delete') {
        writes.push({ path, mode: fileMode(next.mode), type: 'blob', sha: null });
      } else if (typeof next.content === 'string') {
        writes.push({ path, mode: '100644', type: 'blob', content: next.content });
      } else {
        const { data } = await octokit.request('POST /repos/{owner}/{repo}/git/blobs', {
          ...repo,
          content: next.content.toString('base64'),
          encoding: 'base64',
        });
        writes.push({ path, mode: '100644', type: 'blob', sha: data.sha });
      }
    }
    if (writes.length === 0) return baseTree;
    const { data } = await octokit.request('POST /repos/{owner}/{repo}/git/trees', {
      ...repo,
      base_tree: baseTree,
      tree: writes,
    });
    return data.sha;
  });
  if (tree === baseTree && args.allowEmpty !== true) {
    throw new NothingToCommitError(
      `nothing to commit for '${subject}': the changes leave ${branch} as it is`,
    );
  }
  const commit = await client.call(write(`commit '${subject}'`), async (octokit) => {
    const { data } = await octokit.request('POST /repos/{owner}/{repo}/git/commits', {
      ...repo,
      message,
      tree,
      parents: [parent],
      ...(args.author === undefined ? {} : { author: { ...args.author } }),
    });
    return data.sha;
  });
  await client.call(write(`move the branch ${branch}`), async (octokit) => {
    try {
      await octokit.request('PATCH /repos/{owner}/{repo}/git/refs/{ref}', {
        ...repo,
        ref: `heads/${branch}`,
        sha: commit,
        force: false,
      });
    } catch (error) {
      if (hasStatus(error, 422)) throw conflict(null);
      throw error;
    }
  });
  return commit;
}

type Planned = { kind: 'delete'; mode: string } | { kind: 'write'; content: string | Buffer };

/**
 * What each path ends up as, applying the changes in order: a write sets the path, a delete of a
 * file or folder removes every file under it that the parent has (and earlier writes under it).
 */
async function planTree(
  trees: TreeReader,
  baseTree: string,
  changes: FileChange[],
): Promise<Map<string, Planned>> {
  const plan = new Map<string, Planned>();
  for (const change of changes) {
    if (!('delete' in change)) {
      plan.set(change.path, { kind: 'write', content: change.content });
      continue;
    }
    for (const path of [...plan.keys()]) {
      if (path === change.path || path.startsWith(`${change.path}/`)) plan.delete(path);
    }
    const entry = await trees.entryAt(baseTree, change.path);
    if (entry?.type === 'blob') {
      plan.set(change.path, { kind: 'delete', mode: entry.mode });
    } else if (entry?.type === 'tree') {
      for (const [path, file] of await trees.filesUnder(entry.sha)) {
        plan.set(`${change.path}/${path}`, { kind: 'delete', mode: file.mode });
      }
    }
  }
  return plan;
}
