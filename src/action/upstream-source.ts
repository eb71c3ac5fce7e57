import { parseSkillMarkdown } from '../bench/skill.js';
import { RUN_FILES } from '../chain/catalog.js';
import type { UpstreamReader } from '../chain/ports.js';
import type { GitHubClient } from '../github/client.js';
import {
  createGitHubUpstreamReader,
  githubSource,
  type UpstreamTarget,
} from '../github/upstream-reader.js';
import type { RunStore } from '../store/port.js';

/**
 * Which repository step 2 reads when the chain runs on GitHub. Kept simple on purpose:
 * - the skill PR's base repository (where the Action runs), at the skill's own path;
 * - unless the vendored SKILL.md names a github.com URL in its `repository` frontmatter key
 *   (`https://github.com/<owner>/<repo>[/tree/<ref>/<folder>]`): then that repository, at the
 *   URL's folder (or, without one, at the skill's own path).
 * Nothing else in the frontmatter is followed, and a value that is not such a URL is ignored.
 * (`source:`/`upstream:` are not read here: step 1 takes them as signs of a thin wrapper.)
 */
export async function locateUpstream(
  store: RunStore,
  here: { owner: string; repo: string },
  skillPath: string,
): Promise<UpstreamTarget> {
  const text = await store.read(`${RUN_FILES.vendored}/SKILL.md`);
  const frontmatter =
    text === null
      ? {}
      : parseSkillMarkdown(text, `${store.runDir}/vendored-skill/SKILL.md`).frontmatter;
  const value = frontmatter.repository;
  const named = typeof value === 'string' ? githubSource(value) : null;
  if (named !== null) return { ...named, path: named.path ?? skillPath };
  return { owner: here.owner, repo: here.repo, path: skillPath };
}

/** Step 2's reader for a run of the Action: the GitHub API, at the located repository. */
export function actionUpstreamReader(
  client: GitHubClient,
  store: RunStore,
  here: { owner: string; repo: string },
): UpstreamReader {
  return createGitHubUpstreamReader({
    client,
    locate: (skillPath) => locateUpstream(store, here, skillPath),
  });
}
