import nock from 'nock';
import {
  createGitHubClient,
  type GitHubClient,
  type GitHubClientOptions,
} from '../../src/github/client.js';

export const TOKEN = 'ghs_TESTTOKEN0123456789abcdefABCDEF';
export const OWNER = 'acme';
export const REPO = 'skills';

/** A client with retry and throttling off (tests turn them on explicitly) and a recording log. */
export function testClient(opts: Partial<GitHubClientOptions> = {}): {
  client: GitHubClient;
  logged: string[];
} {
  const logged: string[] = [];
  const client = createGitHubClient({
    token: TOKEN,
    retry: false,
    throttle: false,
    retryCommand: '/optimize',
    log: { warn: (m) => logged.push(`warn ${m}`), info: (m) => logged.push(`info ${m}`) },
    ...opts,
  });
  return { client, logged };
}

/** The GitHub API as nock serves it; every test asserts its scopes are done. */
export function api(): nock.Scope {
  return nock('https://api.github.com');
}

/** A 40-hex sha made from a short label, so fixtures read well. */
export function sha(label: string): string {
  return Buffer.from(label).toString('hex').padEnd(40, '0').slice(0, 40);
}

/** What GitHub answers for a failed call. */
export function failure(message: string, status: number) {
  return { message, documentation_url: 'https://docs.github.com/rest', status: String(status) };
}
