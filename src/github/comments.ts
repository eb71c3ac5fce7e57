import { SkillOptimizerError } from '../errors.js';
import type { GitHubClient } from './client.js';

/** A marker is one hidden HTML comment, e.g. `<!-- skill-optimizer:status -->`. */
const MARKER = /^<!--[^\n]*?-->$/;

/**
 * Posts the bot's comment on an issue or pull request, or edits it in place when a comment that
 * starts with `marker` is already there (searched across every page), so re-running never adds a
 * second one. With `author`, only that login's comments count (someone quoting the marker is not
 * the bot). An unchanged body is not rewritten.
 */
export async function upsertMarkedComment(
  client: GitHubClient,
  args: {
    owner: string;
    repo: string;
    issueNumber: number;
    marker: string;
    body: string;
    author?: string;
  },
): Promise<{ id: number }> {
  if (!MARKER.test(args.marker)) {
    throw new SkillOptimizerError(
      `a comment marker must be one HTML comment like '<!-- name -->', not '${args.marker}'`,
    );
  }
  const body = args.body.startsWith(args.marker) ? args.body : `${args.marker}\n${args.body}`;
  const info = {
    action: `comment on #${args.issueNumber}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'pull-requests: write',
  };
  return client.call(info, async (octokit) => {
    const repo = { owner: args.owner, repo: args.repo };
    const pages = octokit.paginate.iterator(
      'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
      { ...repo, issue_number: args.issueNumber, per_page: 100 },
    );
    for await (const page of pages) {
      const mine = page.data.find(
        (comment) =>
          (comment.body ?? '').startsWith(args.marker) &&
          (args.author === undefined || comment.user?.login === args.author),
      );
      if (mine === undefined) continue;
      if (mine.body !== body) {
        await octokit.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
          ...repo,
          comment_id: mine.id,
          body,
        });
      }
      return { id: Number(mine.id) };
    }
    const { data } = await octokit.request(
      'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
      { ...repo, issue_number: args.issueNumber, body },
    );
    return { id: Number(data.id) };
  });
}
