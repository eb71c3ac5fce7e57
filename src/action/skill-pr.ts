import type { ActionDeps, PullRequestInfo, SkillPr } from './ports.js';
import { fetchPullHead } from './pr-skills.js';

/** A skill PR the job has read from GitHub already. */
export function knownSkillPr(pr: PullRequestInfo): SkillPr {
  return { number: pr.number, headSha: pr.headSha, read: async () => pr };
}

/**
 * The skill PR of a run the job resumes: its head is fetched with git (`refs/pull/<n>/head`, no
 * REST request), so a head that moved since the run last looked is still seen; the pull request
 * itself is read from GitHub once, and only if something asks for it.
 */
export async function skillPrAtHead(
  deps: Pick<ActionDeps, 'github' | 'remote'>,
  number: number,
): Promise<SkillPr> {
  const headSha = await fetchPullHead(deps, number);
  let info: Promise<PullRequestInfo> | undefined;
  return {
    number,
    headSha,
    read() {
      info ??= deps.github.getPullRequest(number).then((pr) => ({ ...pr, headSha }));
      return info;
    },
  };
}
