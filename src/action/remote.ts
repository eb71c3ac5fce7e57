import { RefConflictError } from '../github/errors.js';
import { StaleBranchError } from '../store/errors.js';
import { runGit } from '../store/git.js';
import { registerSecret } from '../text/redact.js';

/**
 * The checkout's `origin` as the Action uses it: fetch the work branch and the skill PR's head,
 * push the work branch fast-forward only. The token reaches git only through the child's
 * environment (never argv, never .git/config), so a workflow can check out with
 * `persist-credentials: false` and nothing on disk holds a credential while the bench runs.
 */
export interface WorkRemote {
  /** The branch's sha on the remote, fetched into the local branch; null when it has none. */
  fetchBranch(branch: string): Promise<string | null>;
  /** Fetches a ref (e.g. `refs/pull/12/head`) and returns the commit it names. */
  fetchRef(ref: string): Promise<string>;
  /** Fast-forward push of `sha` to the branch; a branch that moved is a StaleBranchError. */
  push(sha: string, branch: string): Promise<void>;
}

export interface GitRemoteOptions {
  repoDir: string;
  token: string;
  /** e.g. https://github.com — the auth header is scoped to it. */
  serverUrl: string;
  remote?: string;
}

/** `GIT_CONFIG_*` variables that give git the token as an HTTP header for this one command. */
export function gitAuthEnv(token: string, serverUrl: string): Record<string, string> {
  const basic = Buffer.from(`x-access-token:${token}`, 'utf8').toString('base64');
  // The header value is as good as the token: redact it wherever a git error might echo it.
  registerSecret(basic);
  const scoped = `http.${serverUrl.replace(/\/+$/, '')}/.extraheader`;
  // Empty values first: they reset headers a persisted checkout credential may have set.
  const entries: Array<[string, string]> = [
    ['http.extraheader', ''],
    [scoped, ''],
    [scoped, `AUTHORIZATION: basic ${basic}`],
  ];
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

export function createGitRemote(opts: GitRemoteOptions): WorkRemote {
  const remote = opts.remote ?? 'origin';
  const env = gitAuthEnv(opts.token, opts.serverUrl);
  const git = (args: string[], okCodes: number[] = []) =>
    runGit(args, { cwd: opts.repoDir, env, okCodes });
  return {
    async fetchBranch(branch) {
      const listed = await git(['ls-remote', '--heads', remote, `refs/heads/${branch}`]);
      const sha = listed.stdout.split(/\s+/)[0] ?? '';
      if (!/^[0-9a-f]{40}$/.test(sha)) return null;
      await git([
        'fetch',
        '--no-tags',
        '--quiet',
        remote,
        `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`,
      ]);
      await git(['branch', '--force', '--no-track', branch, sha]);
      return sha;
    },
    async fetchRef(ref) {
      await git(['fetch', '--no-tags', '--quiet', remote, ref]);
      return (await git(['rev-parse', '--verify', 'FETCH_HEAD^{commit}'])).stdout.trim();
    },
    async push(sha, branch) {
      const result = await git(
        ['push', '--porcelain', '--no-verify', remote, `${sha}:refs/heads/${branch}`],
        [1],
      );
      if (result.exitCode === 0) return;
      const output = result.stdout + result.stderr;
      if (/\[rejected\]|non-fast-forward|fetch first|stale info/.test(output)) {
        throw new StaleBranchError(
          `the work branch ${branch} moved on GitHub while this job ran (someone pushed to it); nothing was overwritten. Re-run the job or comment /optimize to continue from the new head`,
          { retry: '/optimize' },
        );
      }
      throw new RefConflictError(
        `pushing the work branch ${branch} failed: ${(result.stderr || result.stdout).trim().split('\n').slice(0, 3).join(' / ')}`,
        { retry: '/optimize' },
      );
    },
  };
}
