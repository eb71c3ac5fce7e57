import type { Permission } from '../config/access.js';
import {
  dispatchWorkflow,
  fromOctokit,
  type GitHubClient,
  getAppBotLogin,
  getPermission,
  getPullRequest,
  listOpenPullRequestsInto,
  listReviewComments,
  type OpenPullSummary,
  readFileAt,
  upsertMarkedComment,
} from '../github/index.js';

/**
 * Every GitHub call the App makes, behind one interface so the handlers stay testable; each one
 * is a named call from `src/github/`.
 */

export interface Repo {
  owner: string;
  repo: string;
}

export type PullSummary = OpenPullSummary;

/** A pull request as read now: its summary and the commit its head is at. */
export interface PullAtHead extends PullSummary {
  headSha: string;
}

export interface ReviewNote {
  path: string;
  line: number | null;
  body: string;
}

export interface AppPort {
  permissionOf(repo: Repo, login: string): Promise<Permission | null>;
  readFile(repo: Repo, ref: string, path: string): Promise<string | null>;
  dispatch(
    repo: Repo,
    workflow: string,
    ref: string,
    inputs: Record<string, string>,
  ): Promise<void>;
  /** Creates the bot's comment starting with `marker`, or edits its earlier one in place. */
  upsertComment(repo: Repo, issueNumber: number, marker: string, body: string): Promise<void>;
  getPull(repo: Repo, number: number): Promise<PullAtHead>;
  /** Open pull requests into `base`. */
  listPullsInto(repo: Repo, base: string): Promise<PullSummary[]>;
  reviewNotes(repo: Repo, pull: number, reviewId: number): Promise<ReviewNote[]>;
}

/** `selfLogin` identifies the bot's own comments: only those are ever edited. */
export function githubPort(octokit: unknown, selfLogin: string): AppPort {
  const client: GitHubClient = fromOctokit(octokit);
  return {
    permissionOf: (repo, username) => getPermission(client, { ...repo, username }),
    readFile: (repo, ref, path) => readFileAt(client, { ...repo, ref, path }),
    dispatch: (repo, workflowId, ref, inputs) =>
      dispatchWorkflow(client, { ...repo, workflowId, ref, inputs }),

    async upsertComment(repo, issueNumber, marker, body) {
      await upsertMarkedComment(client, { ...repo, issueNumber, marker, body, author: selfLogin });
    },

    async getPull(repo, number) {
      const pull = await getPullRequest(client, { ...repo, number });
      return {
        number: pull.number,
        body: pull.body,
        headRef: pull.headRef,
        headSha: pull.headSha,
        headRepoFullName: pull.headRepoFullName,
      };
    },

    listPullsInto: (repo, base) => listOpenPullRequestsInto(client, { ...repo, base }),

    async reviewNotes(repo, pull, reviewId) {
      const notes = await listReviewComments(client, { ...repo, number: pull, reviewId });
      return notes.map(({ path, line, body }) => ({ path, line, body }));
    },
  };
}

/** The App's own login (`<slug>[bot]`), asked once with the App's JWT. */
export function appLogin(appOctokit: unknown): Promise<string> {
  return getAppBotLogin(fromOctokit(appOctokit));
}
