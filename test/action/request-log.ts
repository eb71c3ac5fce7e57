import type nock from 'nock';

/**
 * Counts the GitHub REST requests a run makes, per job and per endpoint (the benchmark:
 * at most 60 for a full chain run outside the bench). Attach it to every nock scope of the run;
 * endpoints are templated (`PATCH /repos/{owner}/{repo}/pulls/{n}`) so they group.
 */
export class RequestLog {
  readonly entries: Array<{
    job: string;
    method: string;
    path: string;
    endpoint: string;
    body: string;
  }> = [];

  /** Records each request the scope answers (only the interceptor that matched emits it). */
  attach(scope: nock.Scope, job: string): nock.Scope {
    // nock hands over a fetch Request (method, url) and the body as text.
    scope.on('request', (req: { method?: string; url?: string }, _i: unknown, body?: string) => {
      const method = (req.method ?? 'GET').toUpperCase();
      const path = req.url === undefined ? '' : decodeURIComponent(new URL(req.url).pathname);
      const raw = req.url === undefined ? '' : new URL(req.url).pathname;
      this.entries.push({ job, method, path, endpoint: endpointOf(method, raw), body: body ?? '' });
    });
    return scope;
  }

  /** The parsed body of the job's last `method path` request (path decoded, no query). */
  last(job: string, method: string, path: string): Record<string, unknown> | undefined {
    const hit = this.entries.filter((e) => e.job === job && e.method === method && e.path === path);
    const body = hit.at(-1)?.body;
    return body === undefined || body === '' ? undefined : JSON.parse(body);
  }

  /** Every body the job sent that contains one of the secrets. */
  leaks(job: string, secrets: string[]): string[] {
    return this.entries
      .filter((e) => e.job === job && secrets.some((s) => e.body.includes(s)))
      .map((e) => `${e.method} ${e.path}`);
  }

  /** The requests of the jobs whose name starts with `prefix`. */
  labelled(prefix: string): RequestLog {
    const log = new RequestLog();
    log.entries.push(...this.entries.filter((e) => e.job.startsWith(prefix)));
    return log;
  }

  /** The requests of every job but `job`. */
  except(job: string): RequestLog {
    const log = new RequestLog();
    log.entries.push(...this.entries.filter((e) => e.job !== job));
    return log;
  }

  /** How many requests went to `endpoint` (templated, e.g. `POST /repos/{owner}/{repo}/check-runs`). */
  count(endpoint: string, job?: string): number {
    return this.byEndpoint(job).find(([e]) => e === endpoint)?.[1] ?? 0;
  }

  /** Totals for a benchmark to read. */
  summary(): { total: number; byJob: Record<string, number>; byEndpoint: Record<string, number> } {
    return {
      total: this.total(),
      byJob: Object.fromEntries(this.byJob()),
      byEndpoint: Object.fromEntries(this.byEndpoint()),
    };
  }

  total(job?: string): number {
    return this.entries.filter((e) => job === undefined || e.job === job).length;
  }

  /** Requests per endpoint, most frequent first. */
  byEndpoint(job?: string): Array<[string, number]> {
    const counts = new Map<string, number>();
    for (const e of this.entries) {
      if (job === undefined || e.job === job) {
        counts.set(e.endpoint, (counts.get(e.endpoint) ?? 0) + 1);
      }
    }
    return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }

  byJob(): Array<[string, number]> {
    const counts = new Map<string, number>();
    for (const e of this.entries) counts.set(e.job, (counts.get(e.job) ?? 0) + 1);
    return [...counts];
  }

  /**
   * A plain-text table for the test log and a budget's failure message: the total, each job with
   * its requests per endpoint, then the whole run per endpoint.
   */
  render(title: string): string {
    const row = ([endpoint, n]: [string, number], indent: string) =>
      `${indent}${String(n).padStart(3)}  ${endpoint}`;
    return [
      `${title}: ${this.total()} GitHub REST requests`,
      ...this.byJob().flatMap(([job, n]) => [
        `  job ${job}: ${n}`,
        ...this.byEndpoint(job).map((e) => row(e, '    ')),
      ]),
      '  all jobs:',
      ...this.byEndpoint().map((e) => row(e, '  ')),
    ].join('\n');
  }
}

/** `GET /repos/a/b/pulls/3?x=1` → `GET /repos/{owner}/{repo}/pulls/{n}`. */
export function endpointOf(method: string, path: string): string {
  const route = (path.split('?')[0] ?? '')
    .replace(/^\/repos\/[^/]+\/[^/]+/, '/repos/{owner}/{repo}')
    .replace(/\/git\/(refs?)\/heads%2F[^/]+/, '/git/$1/{ref}')
    .replace(/\/[0-9a-f]{40}(?=\/|$)/g, '/{sha}')
    .replace(/\/\d+(?=\/|$)/g, '/{n}')
    .replace(/\/collaborators\/[^/]+\//, '/collaborators/{user}/');
  return `${method.toUpperCase()} ${route}`;
}
