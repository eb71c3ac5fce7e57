import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWebhookApp } from './fixtures/webhook-app.js';
import {
  type FakeGitHub,
  type FakeGitHubCounts,
  startFakeGitHub,
} from './fixtures/webhook-github.js';
import { median, percentile } from './measure.js';
import { type Benchmark, type Log, type ResultRow, row } from './report.js';

const NAME = 'webhook';
const RATE = 200; // signed deliveries per second
const SECONDS = 10;
const CONNECTIONS = 10;
const WARMUP = 100;
const SEQUENTIAL = 200;
const SECRET = 'bench-webhook-secret';
const SELF = 'skill-optimizer[bot]';

/** The part of autocannon's API used here (the package ships no types). */
interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}
interface LoadResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  /** `total`: responses read. */
  requests: { total: number };
  duration: number;
}
interface LoadInstance extends PromiseLike<LoadResult> {
  on(
    event: 'response',
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
  stop(): void;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  overallRate: number;
  duration: number;
  timeout: number;
  ignoreCoordinatedOmission: boolean;
  requests: Array<{ setupRequest: (request: LoadRequest) => LoadRequest }>;
}) => LoadInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Definition {
  name: string;
  examples: Array<Record<string, unknown>>;
}

/**
 * An `issue_comment.created` `/optimize` from a writer on a pull request, from
 * @octokit/webhooks-examples; each delivery gets its own comment id (the App deduplicates by
 * delivery id and by comment id, so repeated ids would be answered without any work).
 */
interface Delivery {
  id: string;
  body: string;
  signature: string;
}

function deliveries(): (n: number) => Delivery {
  const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Definition[];
  const found = examples
    .find((d) => d.name === 'issue_comment')
    ?.examples.find((e) => e.action === 'created');
  if (found === undefined)
    throw new Error('no issue_comment.created in @octokit/webhooks-examples');
  // biome-ignore lint/suspicious/noExplicitAny: the example payload is edited freely.
  const payload = structuredClone(found) as Record<string, any>;
  const writer = { login: 'octocat', id: 1, node_id: 'U_1', type: 'User', site_admin: false };
  payload.issue.pull_request = {
    url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1',
    html_url: 'https://github.com/Codertocat/Hello-World/pull/1',
  };
  payload.comment.body = '/optimize focus on tables';
  payload.comment.user = writer;
  payload.sender = writer;
  return (n) => {
    payload.comment.id = 1_000_000 + n;
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    return { id: randomUUID(), body, signature };
  };
}

function headers(delivery: Delivery): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/bench',
    'x-github-event': 'issue_comment',
    'x-github-delivery': delivery.id,
    'x-hub-signature-256': delivery.signature,
  };
}

function snapshot(counts: FakeGitHubCounts): FakeGitHubCounts {
  return { ...counts, unexpectedSamples: [...counts.unexpectedSamples] };
}

interface Phase {
  rate: number;
  seconds: number;
  /** Answered, refused or failed: the requests that count. */
  settled: number;
  answered: number;
  dispatched: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  appCpuMs: number;
}

interface Rig {
  url: string;
  github: FakeGitHub;
  cpuMs(): Promise<number>;
  next(): Delivery;
}

/** Holds `rate` signed deliveries per second for `seconds` with autocannon and sums it up. */
async function phase(rig: Rig, rate: number, seconds: number, log: Log): Promise<Phase> {
  const before = snapshot(rig.github.counts);
  const cpuBefore = await rig.cpuMs();
  const latencies: number[] = [];
  const instance = autocannon({
    url: rig.url,
    connections: CONNECTIONS,
    overallRate: rate,
    duration: seconds,
    timeout: 10,
    ignoreCoordinatedOmission: true,
    requests: [
      {
        setupRequest: (request) => {
          const delivery = rig.next();
          return { ...request, method: 'POST', headers: headers(delivery), body: delivery.body };
        },
      },
    ],
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const deadline = setTimeout(() => instance.stop(), (seconds + 20) * 1000);
  const result = await instance;
  clearTimeout(deadline);
  await sleep(1_000); // requests cut off when the load stopped finish in the App
  const cpuSpent = (await rig.cpuMs()) - cpuBefore;

  const counts = rig.github.counts;
  const dispatched = counts.dispatch - before.dispatch;
  const unexpected = counts.unexpected - before.unexpected;
  const missing = Math.max(0, result['2xx'] - dispatched);
  const out: Phase = {
    rate,
    seconds,
    settled: result['2xx'] + result.non2xx + result.errors,
    answered: result['2xx'],
    dispatched,
    errors: result.errors + result.non2xx + missing + unexpected,
    p50: median(latencies),
    p99: percentile(latencies, 99),
    max: latencies.length === 0 ? Number.NaN : Math.max(...latencies),
    appCpuMs: cpuSpent / Math.max(1, dispatched),
  };
  log(
    `  ${rate}/s for ${seconds} s: ${out.answered} signed deliveries answered 2xx ` +
      `(${(result.requests.total / result.duration).toFixed(0)}/s), ${dispatched} workflow dispatches; ` +
      `latency p50 ${out.p50.toFixed(1)} ms, p99 ${out.p99.toFixed(1)} ms, max ${out.max.toFixed(1)} ms; ` +
      `App process CPU ${out.appCpuMs.toFixed(2)} ms per delivery`,
  );
  log(
    `    errors: ${result.errors} socket (${result.timeouts} timeouts), ${result.non2xx} non-2xx, ` +
      `${missing} answered without a dispatch, ${unexpected} unexpected GitHub calls` +
      (counts.unexpectedSamples.length > 0 ? ` (${counts.unexpectedSamples.join('; ')})` : ''),
  );
  return out;
}

/** Sends one delivery and waits for its answer, which must be 200; returns the latency in ms. */
async function deliverOne(rig: Rig): Promise<number> {
  const delivery = rig.next();
  const started = performance.now();
  const response = await fetch(rig.url, {
    method: 'POST',
    headers: headers(delivery),
    body: delivery.body,
  });
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`a delivery was answered ${response.status}`);
  return ms;
}

/**
 * One delivery at a time: WARMUP unmeasured, then SEQUENTIAL measured (the handler's latency with
 * nothing queued ahead of it). Each must be answered 200 and dispatch exactly once.
 */
async function oneAtATime(rig: Rig): Promise<number[]> {
  const before = rig.github.counts.dispatch;
  for (let i = 0; i < WARMUP; i++) await deliverOne(rig);
  const latencies: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) latencies.push(await deliverOne(rig));
  const counts = rig.github.counts;
  if (counts.dispatch - before !== WARMUP + SEQUENTIAL || counts.unexpected > 0) {
    throw new Error(`the App did not dispatch once per delivery: ${JSON.stringify(counts)}`);
  }
  return latencies;
}

/**
 * Target: the App's webhook handler answers with p99 < 50 ms at 200 signed deliveries per second.
 * The App (probot behind `createNodeMiddleware`, webhook secret set, so every signature is
 * verified) runs in its own process on loopback; each delivery is a distinct `/optimize` comment
 * from a writer, so the App does its whole job for each: verify, deduplicate, read the config
 * (404), look up the permission (write) and dispatch the workflow (204), all against a fake
 * GitHub on loopback, before it answers. autocannon holds 200 requests/s for 10 s over 10
 * connections; its rate limit sends each connection's share as soon as it can at the start of
 * every second, so deliveries arrive in bursts of up to 10 at once (harsher than evenly spaced).
 * Latencies are autocannon's per-response times (coordinated-omission correction off: with a
 * per-connection rate it would insert 1 ms-spaced synthetic samples below each real one).
 * Before the load, deliveries sent one at a time give the handler's latency with nothing queued
 * ahead of it; the App process's CPU time per delivery says what rate one core can carry.
 *
 * The App's octokit has retry and throttling off here. In production `probot run` turns on
 * octokit's throttling, which spaces an installation's writes (the dispatch) one second apart as
 * GitHub asks; one repository sending 200 commands a second would queue there by design, so this
 * figure is the App's own cost per delivery, not GitHub's pace.
 */
async function run(log: Log): Promise<ResultRow[]> {
  const github = await startFakeGitHub();
  const app = await startWebhookApp({ secret: SECRET, githubUrl: github.url, selfLogin: SELF });
  try {
    const make = deliveries();
    let n = 0;
    const rig: Rig = { url: app.url, github, cpuMs: () => app.cpuMs(), next: () => make(n++) };
    const single = await oneAtATime(rig);
    log(
      `  one at a time (${SEQUENTIAL} deliveries after ${WARMUP} unmeasured): ` +
        `p50 ${median(single).toFixed(1)} ms, p99 ${percentile(single, 99).toFixed(1)} ms`,
    );
    const full = await phase(rig, RATE, SECONDS, log);
    log(`  one core carries about ${(1000 / full.appCpuMs).toFixed(0)} deliveries/s of App work`);
    return [
      row(NAME, `p99 latency at ${RATE} req/s`, full.p99, 'ms', { op: '<', value: 50 }),
      row(NAME, `p50 latency at ${RATE} req/s`, full.p50, 'ms'),
      row(NAME, `max latency at ${RATE} req/s`, full.max, 'ms'),
      row(NAME, `answered / planned at ${RATE} req/s`, full.answered / (RATE * SECONDS), 'ratio'),
      row(
        NAME,
        `errors at ${RATE} req/s (share of requests)`,
        full.errors / Math.max(1, full.settled),
        '%',
        {
          op: '<',
          value: 0.001,
        },
      ),
      row(NAME, 'App CPU per delivery', full.appCpuMs, 'ms'),
      row(NAME, 'p50 latency, one at a time', median(single), 'ms'),
      row(NAME, 'p99 latency, one at a time', percentile(single, 99), 'ms'),
    ];
  } finally {
    await app.close();
    await github.close();
  }
}

export const webhookBenchmark: Benchmark = { name: NAME, run };
