import type { Config } from '../config/schema.js';
import { detectSkills, manifestCandidates } from '../routing/skills.js';
import { runGit } from '../store/git.js';
import type { ActionDeps, PullRequestInfo } from './ports.js';

export type PullRequestSkills =
  | { kind: 'found'; skills: string[]; headSha: string }
  | { kind: 'none'; message: string };

/** The commit the pull request's head is at now, fetched into the checkout. */
export function fetchPullHead(deps: Pick<ActionDeps, 'remote'>, pr: number): Promise<string> {
  return deps.remote.fetchRef(`refs/pull/${pr}/head`);
}

/**
 * The skill folders a pull request changes, judged at its head commit (fetched into the checkout,
 * whatever ref the workflow checked out, unless the caller fetched it already): changed files
 * from GitHub, `SKILL.md` presence from git.
 */
export async function detectPullRequestSkills(
  deps: Pick<ActionDeps, 'github' | 'remote' | 'context'>,
  config: Config,
  pr: PullRequestInfo,
  fetchedHead?: string,
): Promise<PullRequestSkills> {
  const headSha = fetchedHead ?? (await fetchPullHead(deps, pr.number));
  const changed = await deps.github.listPullRequestFiles(pr.number);
  const opts = { runDir: config.run_dir };
  const present: string[] = [];
  for (const candidate of manifestCandidates(changed, opts)) {
    const found = await runGit(['cat-file', '-e', `${headSha}:${candidate}`], {
      cwd: deps.context.workspace,
      okCodes: [1, 128],
    });
    if (found.exitCode === 0) present.push(candidate);
  }
  const detection = detectSkills(changed, present, { ...opts, runLabel: config.labels.run });
  return detection.kind === 'found' ? { ...detection, headSha } : detection;
}
