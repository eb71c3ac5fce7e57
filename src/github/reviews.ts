import type { GitHubClient } from './client.js';

interface PullRef {
  owner: string;
  repo: string;
  number: number;
}

/**
 * Posts a gate as one review (event COMMENT) pinned to `commitId`, the head the gate asks about.
 */
export async function postGateReview(
  client: GitHubClient,
  args: PullRef & { commitId: string; body: string },
): Promise<{ id: number }> {
  const info = {
    action: `post a review on pull request #${args.number}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'pull-requests: write',
  };
  const { data } = await client.call(info, (octokit) =>
    octokit.request('POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
      owner: args.owner,
      repo: args.repo,
      pull_number: args.number,
      commit_id: args.commitId,
      body: args.body,
      event: 'COMMENT',
    }),
  );
  return { id: Number(data.id) };
}

export interface ReviewComment {
  path: string;
  /** The line in the file the comment is on; null for a comment on the whole file. */
  line: number | null;
  body: string;
  /** The commenter's login. */
  user: string;
}

/** The inline comments of one review (all pages). */
export async function listReviewComments(
  client: GitHubClient,
  args: PullRef & { reviewId: number },
): Promise<ReviewComment[]> {
  const info = {
    action: `read review ${args.reviewId} on pull request #${args.number}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'pull-requests: read',
  };
  return client.call(info, async (octokit) => {
    const comments = await octokit.paginate(
      'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments',
      {
        owner: args.owner,
        repo: args.repo,
        pull_number: args.number,
        review_id: args.reviewId,
        per_page: 100,
      },
    );
    return comments.map((comment) => ({
      path: comment.path,
      line: comment.line ?? comment.original_line ?? null,
      body: comment.body,
      user: comment.user?.login ?? '',
    }));
  });
}
