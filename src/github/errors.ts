import { SkillOptimizerError } from '../errors.js';

/**
 * What a GitHub call was trying to do, so a failure can be told in the maintainer's terms:
 * `action` reads after "could not" (e.g. "open a pull request"), `permission` is the
 * `permissions:` entry (and GitHub App permission) the call needs, e.g. `pull-requests: write`.
 * `owner` is '' for a call that is not about one repository (e.g. reading the App itself).
 */
export interface CallInfo {
  action: string;
  owner: string;
  repo: string;
  permission: string;
}

/** GitHub refused the call (403): the message names the missing permission or setting and the fix. */
export class GitHubPermissionError extends SkillOptimizerError {}

/** The resource does not exist, or the token cannot see it (GitHub answers 404 for both). */
export class GitHubNotFoundError extends SkillOptimizerError {}

/** GitHub rejected the token itself (401). */
export class GitHubAuthError extends SkillOptimizerError {}

/** GitHub failed (5xx, network) or rate-limited the call, even after retrying. */
export class GitHubUnavailableError extends SkillOptimizerError {}

/** GitHub refused the request for another reason (e.g. 422 validation); carries GitHub's own words. */
export class GitHubRequestError extends SkillOptimizerError {}

/** The branch was not where the commit expected it: someone pushed to it (or deleted it) meanwhile. */
export class RefConflictError extends SkillOptimizerError {}

/** A branch the bot wanted to create exists already. */
export class BranchExistsError extends SkillOptimizerError {}

/** A branch name that git (or a careful bot) would not accept. */
export class InvalidBranchNameError extends SkillOptimizerError {}

/** The parts of an Octokit RequestError this module reads (checked structurally, not by class). */
export interface HttpFailure {
  status: number;
  message: string;
  request?: { method?: string; url?: string };
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/**
 * What a mapped error keeps of the failed request as its `cause`: enough to debug (status, call,
 * GitHub's words, its request id), without the request/response objects Octokit attaches.
 */
export interface GitHubFailureDetail {
  status: number;
  request: string;
  githubMessage: string;
  requestId: string | null;
}

/** True for an Octokit RequestError (any copy of @octokit/request-error). */
export function isHttpFailure(error: unknown): error is HttpFailure {
  return (
    error instanceof Error &&
    typeof (error as { status?: unknown }).status === 'number' &&
    'request' in error
  );
}

export function hasStatus(error: unknown, ...statuses: number[]): error is HttpFailure {
  return isHttpFailure(error) && statuses.includes(error.status);
}

/** GitHub's own explanation, one line, without the documentation link Octokit appends. */
export function gitHubMessage(error: HttpFailure): string {
  const data = error.response?.data;
  const fromBody =
    typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : undefined;
  const raw = typeof fromBody === 'string' ? fromBody : error.message.replace(/ - https:\S+$/, '');
  const details = validationDetails(data);
  const line = `${raw}${details === '' ? '' : ` (${details})`}`.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

function validationDetails(data: unknown): string {
  if (typeof data !== 'object' || data === null) return '';
  const errors = (data as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return '';
  return errors
    .map((entry: unknown) => {
      if (typeof entry === 'string') return entry;
      if (typeof entry !== 'object' || entry === null) return '';
      const { message, field, code } = entry as {
        message?: unknown;
        field?: unknown;
        code?: unknown;
      };
      if (typeof message === 'string') return message;
      return [field, code].filter((part) => typeof part === 'string').join(' ');
    })
    .filter((text) => text !== '')
    .join('; ');
}

function header(error: HttpFailure, name: string): string | undefined {
  const value = error.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

function isRateLimited(error: HttpFailure, said: string): boolean {
  return (
    error.status === 429 ||
    header(error, 'x-ratelimit-remaining') === '0' ||
    /rate limit/i.test(said)
  );
}

const ACTIONS_PR_SETTING = /not permitted to create or approve pull requests/i;
const NOT_ACCESSIBLE = /resource not accessible by (integration|personal access token)/i;

/**
 * Turns a failed GitHub call into the error a maintainer can act on. Non-HTTP errors pass through
 * unchanged. `redact` removes the token from anything GitHub echoed back.
 */
export function mapGitHubError(
  error: unknown,
  call: CallInfo,
  opts: { retryCommand: string; redact: (text: string) => string },
): unknown {
  if (!isHttpFailure(error)) return error;
  // An owner of '' marks a call that is not about one repository (e.g. reading the App itself).
  const where = call.owner === '' ? 'GitHub' : `${call.owner}/${call.repo}`;
  const inWhere = call.owner === '' ? '' : ` in ${where}`;
  const said = opts.redact(gitHubMessage(error));
  const detail: GitHubFailureDetail = {
    status: error.status,
    request: opts.redact(`${error.request?.method ?? ''} ${error.request?.url ?? ''}`.trim()),
    githubMessage: said,
    requestId: header(error, 'x-github-request-id') ?? null,
  };
  const cause = { cause: detail };
  const status = error.status;
  if (status === 403 && ACTIONS_PR_SETTING.test(said)) {
    return new GitHubPermissionError(
      `could not ${call.action}${inWhere}: GitHub Actions is not allowed to create pull requests there. ` +
        `Turn on "Allow GitHub Actions to create and approve pull requests" in the repository's Settings → Actions → General → Workflow permissions ` +
        `(if it is greyed out, an organization owner must allow it first in the organization's Settings → Actions → General), then run the workflow again.`,
      cause,
    );
  }
  if ((status === 403 || status === 429) && isRateLimited(error, said)) {
    return new GitHubUnavailableError(
      `could not ${call.action}${inWhere}: GitHub's rate limit was hit and did not clear in time (${status}: ${said}); try again: ${opts.retryCommand}`,
      { retry: opts.retryCommand, cause: detail },
    );
  }
  if (status === 403 && NOT_ACCESSIBLE.test(said)) {
    return new GitHubPermissionError(
      `could not ${call.action}${inWhere}: the token lacks the \`${call.permission}\` permission (GitHub said: ${said}). ` +
        `Add \`${call.permission}\` under \`permissions:\` in the workflow (or grant it to the GitHub App and accept the new permissions), then run it again.`,
      cause,
    );
  }
  if (status === 403) {
    return new GitHubPermissionError(
      `could not ${call.action}${inWhere}: GitHub refused (403: ${said}). The token needs \`${call.permission}\` on ${where}; check the workflow's \`permissions:\` block or the GitHub App's permissions.`,
      cause,
    );
  }
  if (status === 404) {
    return new GitHubNotFoundError(
      `could not ${call.action}${inWhere}: not found or no access (404). Check that it exists and that the token can see ${where} (GitHub answers 404 for private resources the token has no access to).`,
      cause,
    );
  }
  if (status === 401) {
    return new GitHubAuthError(
      `could not ${call.action}${inWhere}: GitHub rejected the token (401: ${said}); it is missing, expired or revoked. Provide a valid token and try again.`,
      cause,
    );
  }
  if (status >= 500 || status === 0) {
    return new GitHubUnavailableError(
      `could not ${call.action}${inWhere}: GitHub is unavailable (${status === 0 ? 'no response' : status}) even after retrying; try again: ${opts.retryCommand}`,
      { retry: opts.retryCommand, cause: detail },
    );
  }
  return new GitHubRequestError(
    `could not ${call.action}${inWhere}: GitHub answered ${status}: ${said}`,
    cause,
  );
}
