import type { GitHubClient } from './client.js';

interface RepoRef {
  owner: string;
  repo: string;
}

function pullInfo(args: RepoRef, action: string, access: 'read' | 'write') {
  return { action, owner: args.owner, repo: args.repo, permission: `pull-requests: ${access}` };
}

export interface PullRequestInfo {
  number: number;
  state: 'open' | 'closed';
  headRef: string;
  headSha: string;
  /** `owner/name` of the head branch's repository; null when that fork was deleted. */
  headRepoFullName: string | null;
  baseRef: string;
  /** The head branch lives in another repository than the base (a fork). */
  isFork: boolean;
  draft: boolean;
  body: string;
  /** The author's login. */
  user: string;
}

export async function getPullRequest(
  client: GitHubClient,
  args: RepoRef & { number: number },
): Promise<PullRequestInfo> {
  const { data } = await client.call(
    pullInfo(args, `read pull request #${args.number}`, 'read'),
    (octokit) =>
      octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', {
        owner: args.owner,
        repo: args.repo,
        pull_number: args.number,
      }),
  );
  const headRepo = data.head.repo?.full_name ?? null;
  return {
    number: data.number,
    state: data.state === 'closed' ? 'closed' : 'open',
    headRef: data.head.ref,
    headSha: data.head.sha,
    headRepoFullName: headRepo,
    baseRef: data.base.ref,
    isFork: headRepo !== data.base.repo.full_name,
    draft: data.draft === true,
    body: data.body ?? '',
    user: data.user.login,
  };
}

/** Paths of every file the pull request changes (all pages). */
export async function listPullRequestFiles(
  client: GitHubClient,
  args: RepoRef & { number: number },
): Promise<string[]> {
  return client.call(
    pullInfo(args, `list the files of pull request #${args.number}`, 'read'),
    async (octokit) => {
      const files = await octokit.paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/files', {
        owner: args.owner,
        repo: args.repo,
        pull_number: args.number,
        per_page: 100,
      });
      return files.map((file) => file.filename);
    },
  );
}

/** Opens a pull request (draft unless `draft: false`). */
export async function createPullRequest(
  client: GitHubClient,
  args: RepoRef & { head: string; base: string; title: string; body: string; draft?: boolean },
): Promise<{ number: number; url: string }> {
  const { data } = await client.call(pullInfo(args, 'open a pull request', 'write'), (octokit) =>
    octokit.request('POST /repos/{owner}/{repo}/pulls', {
      owner: args.owner,
      repo: args.repo,
      head: args.head,
      base: args.base,
      title: args.title,
      body: args.body,
      draft: args.draft ?? true,
    }),
  );
  return { number: data.number, url: data.html_url };
}

export async function updatePullRequestBody(
  client: GitHubClient,
  args: RepoRef & { number: number; body: string },
): Promise<void> {
  await client.call(
    pullInfo(args, `update the description of pull request #${args.number}`, 'write'),
    (octokit) =>
      octokit.request('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', {
        owner: args.owner,
        repo: args.repo,
        pull_number: args.number,
        body: args.body,
      }),
  );
}

/**
 * The open pull request from `head` into `base`, or null. `head` is a branch of this repository
 * or `owner:branch` for a fork.
 */
export async function findPullRequestByHead(
  client: GitHubClient,
  args: RepoRef & { head: string; base: string },
): Promise<{ number: number; body: string } | null> {
  const head = args.head.includes(':') ? args.head : `${args.owner}:${args.head}`;
  const { data } = await client.call(
    pullInfo(args, `look for the pull request from ${head}`, 'read'),
    (octokit) =>
      octokit.request('GET /repos/{owner}/{repo}/pulls', {
        owner: args.owner,
        repo: args.repo,
        head,
        base: args.base,
        state: 'open',
        per_page: 1,
      }),
  );
  const found = data[0];
  return found === undefined ? null : { number: found.number, body: found.body ?? '' };
}

export async function requestReviewers(
  client: GitHubClient,
  args: RepoRef & { number: number; reviewers: string[] },
): Promise<void> {
  if (args.reviewers.length === 0) return;
  await client.call(
    pullInfo(args, `request a review on pull request #${args.number}`, 'write'),
    (octokit) =>
      octokit.request('POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers', {
        owner: args.owner,
        repo: args.repo,
        pull_number: args.number,
        reviewers: args.reviewers,
      }),
  );
}

export interface OpenPullSummary {
  number: number;
  body: string | null;
  headRef: string;
  /** `owner/name` of the head branch's repository; null when that fork was deleted. */
  headRepoFullName: string | null;
}

/** Every open pull request into `base` (all pages). */
export async function listOpenPullRequestsInto(
  client: GitHubClient,
  args: RepoRef & { base: string },
): Promise<OpenPullSummary[]> {
  return client.call(
    pullInfo(args, `list the open pull requests into ${args.base}`, 'read'),
    async (octokit) => {
      const pulls = await octokit.paginate('GET /repos/{owner}/{repo}/pulls', {
        owner: args.owner,
        repo: args.repo,
        base: args.base,
        state: 'open',
        per_page: 100,
      });
      return pulls.map((pull) => ({
        number: pull.number,
        body: pull.body ?? null,
        headRef: pull.head.ref,
        headRepoFullName: pull.head.repo?.full_name ?? null,
      }));
    },
  );
}
