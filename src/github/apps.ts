import { SkillOptimizerError } from '../errors.js';
import type { GitHubClient } from './client.js';

/**
 * The login the App's own comments and reviews carry (`<slug>[bot]`), from `GET /app`; the client
 * must be authenticated as the App (JWT), e.g. probot's unauthenticated `app.auth()`.
 */
export async function getAppBotLogin(client: GitHubClient): Promise<string> {
  const info = {
    action: 'read this GitHub App',
    owner: '',
    repo: '',
    permission: 'none (App JWT)',
  };
  const { data } = await client.call(info, (octokit) => octokit.request('GET /app'));
  if (data === null || typeof data.slug !== 'string' || data.slug === '') {
    throw new SkillOptimizerError('GitHub did not name this App (GET /app returned no slug)');
  }
  return `${data.slug}[bot]`;
}
