import type { Permission } from '../config/access.js';
import { SkillOptimizerError } from '../errors.js';
import {
  dispatchWorkflow,
  fromOctokit,
  type GitHubClient,
  getPermission,
  getPullRequest,
  listReviewComments,
  readFileAt,
  upsertMarkedComment,
} from '../github/index.js';

/**
 * Every GitHub call the App makes, behind one interface so the handlers stay testable. Each one
 * is a named call from `src/github/`, except listing the open pull requests into a branch (for
 * `/optimize status` on a skill PR), which `src/github/` has no call for yet and is made here
 * through the shared client's error mapping.
 */

export interface Repo {
  owner: string;
  repo: string;
}

export interface PullSummary {
  number: number;
  body: string | null;
  headRef: string;
  headRepoFullName: string | null;
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
  getPull(repo: Repo, number: number): Promise<PullSummary>;
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
        headRepoFullName: pull.headRepoFullName,
      };
    },

    async listPullsInto(repo, base) {
      const info = {
        action: `list the open pull requests into ${base}`,
        owner: repo.owner,
        repo: repo.repo,
        permission: 'pull-requests: read',
      };
      const pulls = await client.call(info, (o) =>
        o.paginate('GET /repos/{owner}/{repo}/pulls', {
          ...repo,
          base,
          state: 'open',
          per_page: 100,
        }),
      );
      return pulls.map((pull) => ({
        number: pull.number,
        body: pull.body ?? null,
        headRef: pull.head.ref,
        headRepoFullName: pull.head.repo?.full_name ?? null,
      }));
    },

    async reviewNotes(repo, pull, reviewId) {
      const notes = await listReviewComments(client, { ...repo, number: pull, reviewId });
      return notes.map(({ path, line, body }) => ({ path, line, body }));
    },
  };
}

/** The App's own login (`<slug>[bot]`), asked once with the App's JWT. */
export async function appLogin(appOctokit: unknown): Promise<string> {
  const client = fromOctokit(appOctokit);
  const info = {
    action: 'read the GitHub App',
    owner: '-',
    repo: '-',
    permission: 'none (App JWT)',
  };
  const { data } = await client.call(info, (o) => o.request('GET /app'));
  if (data === null || typeof data.slug !== 'string') {
    throw new SkillOptimizerError('GitHub did not name this App (GET /app returned no slug)');
  }
  return `${data.slug}[bot]`;
}
