import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { SkillOptimizerError } from '../errors.js';
import { redactBytes, redactDeep, redactSecrets, registerSecret } from '../text/redact.js';
import { type CallInfo, mapGitHubError } from './errors.js';

/** The Octokit surface the calls use: `request` and `paginate` (probot's instances have both). */
export type RestOctokit = InstanceType<typeof Octokit>;

export interface GitHubLog {
  warn(message: string): void;
  info(message: string): void;
}

export interface GitHubClientOptions {
  token: string;
  baseUrl?: string;
  /** Retry 5xx and network failures (never 4xx). Default on; tests turn it off. */
  retry?: boolean;
  /** Queue writes and wait out rate limits (bounded). Default on; tests turn it off. */
  throttle?: boolean;
  userAgent?: string;
  log?: GitHubLog;
  /** The command a maintainer runs to try again after GitHub failed; shown in errors. */
  retryCommand?: string;
  /** Attempts after the first failure, for 5xx and for rate limits. Default 3 and 2. */
  retries?: number;
  rateLimitRetries?: number;
  /** Wait unit for both plugins, in ms (retry waits n² units; rate limits wait retry-after units). */
  retryDelayMs?: number;
  /** A rate limit that clears later than this many seconds is not waited for. Default 900. */
  maxRateLimitWaitSeconds?: number;
  /** Test seam: the fetch Octokit uses. */
  fetch?: typeof fetch;
}

/** Request options that describe the call rather than carry its data. */
const CALL_FIELDS = new Set(['method', 'url', 'baseUrl', 'headers', 'request', 'mediaType']);

/**
 * Redacts every parameter of a request (the body GitHub receives, the query, the path values)
 * before it is sent; a base64 blob is decoded, redacted as bytes and encoded again.
 */
function redactRequest(options: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(options)) {
    if (CALL_FIELDS.has(key)) continue;
    if (key === 'content' && options.encoding === 'base64' && typeof value === 'string') {
      options[key] = redactBytes(Buffer.from(value, 'base64')).toString('base64');
    } else {
      options[key] = redactDeep(value);
    }
  }
}

interface HookedOctokit {
  hook?: { before?: (name: 'request', fn: (options: Record<string, unknown>) => void) => void };
}

/** Octokits that already redact their requests (a probot octokit may be wrapped more than once). */
const redacting = new WeakSet<object>();

function redactRequests(octokit: RestOctokit): void {
  if (redacting.has(octokit)) return;
  const before = (octokit as unknown as HookedOctokit).hook?.before;
  if (typeof before !== 'function') {
    throw new SkillOptimizerError(
      'the Octokit instance has no request hook, so what it sends could not be redacted',
    );
  }
  before.call((octokit as unknown as HookedOctokit).hook, 'request', redactRequest);
  redacting.add(octokit);
}

export const DEFAULT_RETRY_COMMAND = 'comment `/optimize` on the pull request';

/** Every 4xx: a client error does not get better by asking again (rate limits are throttling's). */
const CLIENT_ERRORS = Array.from({ length: 100 }, (_, index) => 400 + index);

const OctokitWithPlugins = Octokit.plugin(retry, throttling);

/**
 * The one GitHub connection: an Octokit plus how to report its failures. The token lives only in
 * a private field (used to scrub it from anything GitHub echoes back) and in Octokit's auth hook.
 * Every request the Octokit sends has its parameters redacted first (text/redact.ts), whoever
 * makes the call: comments, reviews, pull request bodies, check runs, commits and blobs.
 */
export class GitHubClient {
  readonly octokit: RestOctokit;
  readonly retryCommand: string;
  readonly #token: string | null;

  constructor(octokit: RestOctokit, opts: { token?: string | null; retryCommand?: string } = {}) {
    redactRequests(octokit);
    this.octokit = octokit;
    this.#token = opts.token === undefined || opts.token === '' ? null : opts.token;
    this.retryCommand = opts.retryCommand ?? DEFAULT_RETRY_COMMAND;
  }

  /** The text with the token (if this client knows it) replaced by `***`, and every secret redacted. */
  redact(text: string): string {
    return redactSecrets(this.#token === null ? text : text.split(this.#token).join('***'));
  }

  /** Runs one GitHub call; a failure comes back as the plain error for `info` (see errors.ts). */
  async call<T>(info: CallInfo, run: (octokit: RestOctokit) => Promise<T>): Promise<T> {
    try {
      return await run(this.octokit);
    } catch (error) {
      throw mapGitHubError(error, info, {
        retryCommand: this.retryCommand,
        redact: (text) => this.redact(text),
      });
    }
  }

  toJSON(): { kind: 'GitHubClient'; retryCommand: string } {
    return { kind: 'GitHubClient', retryCommand: this.retryCommand };
  }
}

const silentLog: GitHubLog = { warn: () => {}, info: () => {} };

export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  if (opts.token.trim() === '') {
    throw new SkillOptimizerError(
      'no GitHub token was given; pass `github-token` (the Action) or run as the GitHub App',
    );
  }
  registerSecret(opts.token);
  const sink = opts.log ?? silentLog;
  let client: GitHubClient | null = null;
  const redact = (text: string): string => (client === null ? text : client.redact(text));
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const rateLimitRetries = opts.rateLimitRetries ?? 2;
  const maxWait = opts.maxRateLimitWaitSeconds ?? 900;
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _o: unknown,
      count: number,
    ) => {
      const call = `${options.method ?? 'GET'} ${options.url ?? ''}`;
      if (count >= rateLimitRetries || retryAfter > maxWait) {
        sink.warn(redact(`GitHub ${kind} on ${call}: not retrying (clears in ${retryAfter}s)`));
        return false;
      }
      sink.warn(
        redact(
          `GitHub ${kind} on ${call}: retrying in ${retryAfter}s (retry ${count + 1} of ${rateLimitRetries})`,
        ),
      );
      return true;
    };
  const octokit = new OctokitWithPlugins({
    auth: opts.token,
    ...(opts.baseUrl === undefined ? {} : { baseUrl: opts.baseUrl }),
    userAgent: opts.userAgent ?? 'skill-optimizer',
    log: {
      // Octokit logs every request at info; only its warnings and errors are worth a line.
      debug: () => {},
      info: () => {},
      warn: (message: string) => sink.warn(redact(message)),
      error: (message: string) => sink.warn(redact(message)),
    },
    ...(opts.fetch === undefined ? {} : { request: { fetch: opts.fetch } }),
    retry: {
      enabled: opts.retry ?? true,
      retries: opts.retries ?? 3,
      retryAfterBaseValue: retryDelayMs,
      doNotRetry: CLIENT_ERRORS,
    },
    throttle: {
      enabled: opts.throttle ?? true,
      retryAfterBaseValue: retryDelayMs,
      onRateLimit: onLimit('rate limit'),
      onSecondaryRateLimit: onLimit('secondary rate limit'),
    },
  });
  client = new GitHubClient(octokit, {
    token: opts.token,
    ...(opts.retryCommand === undefined ? {} : { retryCommand: opts.retryCommand }),
  });
  return client;
}

/**
 * Wraps an Octokit someone else authenticated (probot's `context.octokit`, which brings its own
 * retry and throttling). Its token is not known here; Octokit already redacts it from errors.
 */
export function fromOctokit(octokit: unknown, opts: { retryCommand?: string } = {}): GitHubClient {
  const candidate = octokit as { request?: unknown; paginate?: unknown } | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.request !== 'function' ||
    typeof candidate.paginate !== 'function'
  ) {
    throw new SkillOptimizerError(
      'fromOctokit needs an Octokit instance with `request` and `paginate` (e.g. probot context.octokit)',
    );
  }
  return new GitHubClient(octokit as RestOctokit, opts);
}
