import type { PublishPlan } from '../chain/publish.js';
import { SkillOptimizerError } from '../errors.js';
import type { GitHubClient } from '../github/client.js';
import { BranchExistsError } from '../github/errors.js';
import { commitFiles, createBranch, getBranchSha } from '../github/git-data.js';
import {
  createPullRequest,
  findPullRequestByHead,
  updatePullRequestBody,
} from '../github/pulls.js';
import { createFork } from '../github/repos.js';
import { NothingToCommitError } from '../store/errors.js';

/**
 * Carries out a publication plan on GitHub (docs/chain.md "Publishing"): a branch whose only change
 * is the improved skill, and a draft PR from it — stacked on the skill PR, or to the upstream
 * target (through a fork when that is another repository). Never marks anything ready, never
 * merges. Idempotent: an existing branch gets a commit only when the skill differs, an existing
 * PR gets its body updated. Every write is a whole commit moved onto the branch at the end, so a
 * failure part-way leaves the branch as it was before the failed write.
 */

/** Where the Action runs and what the run belongs to. */
export interface PublishWhere {
  /** The repository the Action runs in (the skill PR's base repository). */
  owner: string;
  repo: string;
  /** The skill PR's branches, read only by a stacked publication (an upstream one needs none). */
  skillPr: () => Promise<{ headRef: string; baseRef: string; isFork: boolean }>;
  /** e.g. https://github.com, for links to pull requests found again. */
  serverUrl: string;
  author?: { name: string; email: string };
}

export interface Published {
  /** `owner/repo` the PR was opened in. */
  repo: string;
  number: number;
  url: string;
  /** The head as the PR names it (`owner:branch` for a fork). */
  head: string;
  base: string;
  created: boolean;
  /** False when the branch already held exactly this skill. */
  committed: boolean;
  forked: boolean;
}

export interface Publisher {
  publish(plan: PublishPlan, where: PublishWhere): Promise<Published>;
}

export class PublishError extends SkillOptimizerError {}

export interface PublisherOptions {
  /** Waits between checks for a new fork; injectable so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** Checks for the fork's base branch before giving up (default 6: about a minute in all). */
  forkChecks?: number;
  /** The first wait; each next one doubles (default 2000 ms). */
  forkWaitMs?: number;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function githubPublisher(client: GitHubClient, options: PublisherOptions = {}): Publisher {
  const sleep = options.sleep ?? sleepFor;
  const checks = options.forkChecks ?? 6;
  const firstWait = options.forkWaitMs ?? 2000;

  /**
   * The branch's head, creating it at `start` when it does not exist yet. In a fork that appeared
   * while this job waited for it, nothing but the base branch exists yet: the branch is created
   * without being looked up first (a branch there after all is read back, as in a race).
   */
  async function ensureBranch(
    at: { owner: string; repo: string },
    branch: string,
    start: string,
    opts: { newFork: boolean } = { newFork: false },
  ): Promise<string> {
    if (!opts.newFork) {
      const existing = await getBranchSha(client, { ...at, branch });
      if (existing !== null) return existing;
    }
    try {
      await createBranch(client, { ...at, branch, sha: start });
      return start;
    } catch (error) {
      if (!(error instanceof BranchExistsError)) throw error;
      const raced = await getBranchSha(client, { ...at, branch });
      if (raced === null) throw error;
      return raced;
    }
  }

  /** One commit making the folder the improved skill; false when the branch holds it already. */
  async function commitSkill(
    at: { owner: string; repo: string },
    plan: PublishPlan,
    parent: string,
    author: PublishWhere['author'],
  ): Promise<boolean> {
    try {
      await commitFiles(client, {
        ...at,
        branch: plan.branch,
        expectedParent: parent,
        // ensureBranch read or created the branch at the parent a moment ago.
        parentJustRead: true,
        message: plan.commitMessage,
        changes: plan.changes,
        ...(author ? { author } : {}),
      });
      return true;
    } catch (error) {
      if (error instanceof NothingToCommitError) return false;
      throw error;
    }
  }

  /** Waits until the fork has `branch`; true when it did not have it at first (a new fork). */
  async function waitForFork(
    fork: { owner: string; repo: string },
    branch: string,
  ): Promise<boolean> {
    let wait = firstWait;
    for (let check = 1; check <= checks; check += 1) {
      if ((await getBranchSha(client, { ...fork, branch })) !== null) return check > 1;
      if (check < checks) {
        await sleep(wait);
        wait *= 2;
      }
    }
    throw new PublishError(
      `the fork ${fork.owner}/${fork.repo} has no ${branch} branch yet (GitHub creates forks in the background); nothing was pushed`,
      { retry: client.retryCommand },
    );
  }

  async function openOrUpdate(
    serverUrl: string,
    at: { owner: string; repo: string },
    pr: { head: string; base: string; title: string; body: string },
  ): Promise<{ number: number; url: string; created: boolean }> {
    const found = await findPullRequestByHead(client, { ...at, head: pr.head, base: pr.base });
    if (found !== null) {
      if (found.body !== pr.body) {
        await updatePullRequestBody(client, { ...at, number: found.number, body: pr.body });
      }
      return {
        number: found.number,
        url: `${serverUrl}/${at.owner}/${at.repo}/pull/${found.number}`,
        created: false,
      };
    }
    const created = await createPullRequest(client, { ...at, ...pr, draft: true });
    return { ...created, created: true };
  }

  return {
    async publish(plan, where) {
      const here = { owner: where.owner, repo: where.repo };
      if (plan.target.kind === 'stacked') {
        // A fork's head branch cannot take a PR from here: a fork's run goes to its base branch.
        const skillPr = await where.skillPr();
        const base = skillPr.isFork ? skillPr.baseRef : skillPr.headRef;
        const start = skillPr.isFork ? await requireBranch(here, base) : plan.sourceCommit;
        const parent = await ensureBranch(here, plan.branch, start);
        const committed = await commitSkill(here, plan, parent, where.author);
        const pr = await openOrUpdate(where.serverUrl, here, {
          head: plan.branch,
          base,
          title: plan.title,
          body: plan.body,
        });
        return {
          repo: `${here.owner}/${here.repo}`,
          ...pr,
          head: plan.branch,
          base,
          committed,
          forked: false,
        };
      }
      // An upstream that is this very repository needs no fork (and GITHUB_TOKEN could not fork).
      const same =
        plan.target.owner.toLowerCase() === here.owner.toLowerCase() &&
        plan.target.repo.toLowerCase() === here.repo.toLowerCase();
      const upstream = same ? here : { owner: plan.target.owner, repo: plan.target.repo };
      const base = plan.target.baseBranch;
      const start = await requireBranch(upstream, base);
      let push = upstream;
      let newFork = false;
      if (!same) {
        push = await createFork(client, upstream);
        newFork = await waitForFork(push, base);
      }
      const parent = await ensureBranch(push, plan.branch, start, { newFork });
      const committed = await commitSkill(push, plan, parent, where.author);
      const head = same ? plan.branch : `${push.owner}:${plan.branch}`;
      const pr = await openOrUpdate(where.serverUrl, upstream, {
        head,
        base,
        title: plan.title,
        body: plan.body,
      });
      return {
        repo: `${upstream.owner}/${upstream.repo}`,
        ...pr,
        head,
        base,
        committed,
        forked: !same,
      };
    },
  };

  async function requireBranch(at: { owner: string; repo: string }, branch: string) {
    const sha = await getBranchSha(client, { ...at, branch });
    if (sha === null) {
      throw new PublishError(
        `${at.owner}/${at.repo} has no branch ${branch} to open the pull request against; correct \`base_branch\` in 02-submissions.md (or re-run step 2) and try again`,
        { retry: client.retryCommand },
      );
    }
    return sha;
  }
}
