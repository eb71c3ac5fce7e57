import type { GitHubClient } from './client.js';
import { hasStatus } from './errors.js';
import { readBlob } from './git-trees.js';

export interface RepoRef {
  owner: string;
  repo: string;
}

export type RepoPermission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

const ROLES: readonly RepoPermission[] = ['admin', 'maintain', 'write', 'triage', 'read', 'none'];

function asPermission(value: unknown): RepoPermission | null {
  return ROLES.find((role) => role === value) ?? null;
}

/**
 * The user's role on the repository (`role_name`, which tells maintain and triage apart; a custom
 * role falls back to its base `permission`). Null when GitHub does not know the user (404).
 */
export async function getPermission(
  client: GitHubClient,
  args: RepoRef & { username: string },
): Promise<RepoPermission | null> {
  const info = {
    action: `look up ${args.username}'s permission`,
    owner: args.owner,
    repo: args.repo,
    permission: 'metadata: read',
  };
  return client.call(info, async (octokit) => {
    try {
      const { data } = await octokit.request(
        'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
        { owner: args.owner, repo: args.repo, username: args.username },
      );
      return asPermission(data.role_name) ?? asPermission(data.permission) ?? 'none';
    } catch (error) {
      if (hasStatus(error, 404)) return null;
      throw error;
    }
  });
}

/**
 * A file's text at `ref` (branch, tag or sha); null when there is no file at that path (404, or a
 * folder). Files over 1 MB, which the contents API does not inline, are read as blobs.
 */
export async function readFileAt(
  client: GitHubClient,
  args: RepoRef & { ref: string; path: string },
): Promise<string | null> {
  const info = {
    action: `read ${args.path} at ${args.ref}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'contents: read',
  };
  const found = await client.call(info, async (octokit) => {
    try {
      const { data } = await octokit.request('GET /repos/{owner}/{repo}/contents/{path}', {
        owner: args.owner,
        repo: args.repo,
        path: args.path,
        ref: args.ref,
      });
      return data;
    } catch (error) {
      if (hasStatus(error, 404)) return null;
      throw error;
    }
  });
  if (found === null || Array.isArray(found) || found.type !== 'file') return null;
  if ('content' in found && found.encoding === 'base64' && typeof found.content === 'string') {
    return Buffer.from(found.content, 'base64').toString('utf8');
  }
  return (await readBlob(client, { ...args, sha: found.sha })).toString('utf8');
}

/** Starts a `workflow_dispatch` run of a workflow (file name or id) on `ref`. */
export async function dispatchWorkflow(
  client: GitHubClient,
  args: RepoRef & { workflowId: string | number; ref: string; inputs: Record<string, string> },
): Promise<void> {
  const info = {
    action: `start the workflow ${args.workflowId} on ${args.ref}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'actions: write',
  };
  await client.call(info, (octokit) =>
    octokit.request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', {
      owner: args.owner,
      repo: args.repo,
      workflow_id: args.workflowId,
      ref: args.ref,
      inputs: args.inputs,
    }),
  );
}

/**
 * Forks the repository into the token's account (or `organization`). GitHub creates forks
 * asynchronously: the fork may take a moment before git data can be written to it.
 */
export async function createFork(
  client: GitHubClient,
  args: RepoRef & { organization?: string },
): Promise<RepoRef> {
  const info = {
    action: 'fork the repository',
    owner: args.owner,
    repo: args.repo,
    permission: 'administration: write',
  };
  const { data } = await client.call(info, (octokit) =>
    octokit.request('POST /repos/{owner}/{repo}/forks', {
      owner: args.owner,
      repo: args.repo,
      default_branch_only: true,
      ...(args.organization === undefined ? {} : { organization: args.organization }),
    }),
  );
  return { owner: data.owner.login, repo: data.name };
}
