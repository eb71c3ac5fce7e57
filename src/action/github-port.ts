import { createCheckRun, updateCheckRun } from '../github/checks.js';
import type { GitHubClient } from '../github/client.js';
import { upsertMarkedComment } from '../github/comments.js';
import {
  createPullRequest,
  findPullRequestByHead,
  getPullRequest,
  listPullRequestFiles,
  requestReviewers,
  updatePullRequestBody,
} from '../github/pulls.js';
import { getPermission } from '../github/repos.js';
import { listReviewComments, postGateReview } from '../github/reviews.js';
import type { ActionGitHub } from './ports.js';

/** The Action's GitHub port over the calls in src/github, bound to one repository. */
export function actionGitHub(
  client: GitHubClient,
  repo: { owner: string; repo: string },
  botLogin: string,
): ActionGitHub {
  const at = { owner: repo.owner, repo: repo.repo };
  return {
    permissionOf: (username) => getPermission(client, { ...at, username }),
    getPullRequest: (number) => getPullRequest(client, { ...at, number }),
    listPullRequestFiles: (number) => listPullRequestFiles(client, { ...at, number }),
    findPullRequestByHead: (head, base) => findPullRequestByHead(client, { ...at, head, base }),
    createDraftPullRequest: (args) => createPullRequest(client, { ...at, ...args, draft: true }),
    updatePullRequestBody: (number, body) => updatePullRequestBody(client, { ...at, number, body }),
    async upsertComment(issueNumber, marker, body) {
      await upsertMarkedComment(client, { ...at, issueNumber, marker, body, author: botLogin });
    },
    async postGateReview(number, commitId, body) {
      await postGateReview(client, { ...at, number, commitId, body });
    },
    requestReviewers: (number, reviewers) => requestReviewers(client, { ...at, number, reviewers }),
    async listReviewComments(number, reviewId) {
      const comments = await listReviewComments(client, { ...at, number, reviewId });
      return comments.map((c) => ({ path: c.path, line: c.line, body: c.body }));
    },
    async createCheckRun(args) {
      const created = await createCheckRun(client, {
        ...at,
        name: args.name,
        headSha: args.headSha,
        ...(args.conclusion === undefined
          ? { status: 'in_progress' as const }
          : { status: 'completed' as const, conclusion: args.conclusion }),
        output: { title: args.title, summary: args.summary },
      });
      return created.id;
    },
    async completeCheckRun(id, args) {
      await updateCheckRun(client, {
        ...at,
        checkRunId: id,
        ...(args.name === undefined ? {} : { name: args.name }),
        status: 'completed',
        conclusion: args.conclusion,
        output: { title: args.title, summary: args.summary },
      });
    },
  };
}
