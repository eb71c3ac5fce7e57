import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { DEFAULT_WORK_CONCURRENCY } from '../src/app/work-queue.js';
import { startWebhookApp } from './fixtures/webhook-app.js';
import {
  type FakeGitHubCounts,
  type Latency,
  startFakeGitHubProcess,
} from './fixtures/webhook-github.js';
import { median, percentile } from './measure.js';
import { type Benchmark, type Log, type ResultRow, row } from './report.js';

const NAME = 'webhook';
const RATE = 200; // signed deliveries per second
const SECONDS = 10;
const WARMUP_RATE = 100;
const WARMUP = 200;
const GITHUB_LATENCY: Latency = { minMs: 100, maxMs: 300, seed: 10 };
/**
 * The App's work queue as deployed: 32 deliveries' GitHub work at once, about 40 deliveries a
 * second at 4 calls × 200 ms, so a 200/s burst is answered at once and acted on over the
 * following seconds (the drain time is reported).
 */
const WORK_CONCURRENCY = DEFAULT_WORK_CONCURRENCY;
/** Keep-alive sockets of the load client: more than can be in flight at the target latency. */
const SOCKETS = 256;
const REQUEST_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 120_000;
const SECRET = 'bench-webhook-secret';
const SELF = 'skill-optimizer[bot]';

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
  commentId: string;
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
    const commentId = 1_000_000 + n;
    payload.comment.id = commentId;
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    return { id: randomUUID(), commentId: String(commentId), body, signature };
  };
}

function headers(delivery: Delivery): Record<string, string | number> {
  return {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(delivery.body),
    'user-agent': 'GitHub-Hookshot/bench',
    'x-github-event': 'issue_comment',
    'x-github-delivery': delivery.id,
    'x-hub-signature-256': delivery.signature,
  };
}

interface Load {
  /** Per answered-2xx request: ms from its *scheduled* send time to the end of its answer. */
  latencies: number[];
  served: number;
  /** Non-2xx answers, socket errors and timeouts, with a few samples for the log. */
  failed: number;
  failures: string[];
  /** How late the client itself sent each request (ms after its due time). */
  sendLags: number[];
  wallMs: number;
}

/**
 * Open-loop load: request i is due at start + i / rate whatever happened to the earlier ones, and
 * its latency runs from that due time, not from when it was actually sent. A slow App (or a
 * client that fell behind) therefore shows in every request that waited, not only in the one it
 * was busy with: no coordinated omission.
 */
function openLoop(url: string, planned: Delivery[], rate: number): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
  const interval = 1000 / rate;
  const done = new Array<boolean>(planned.length).fill(false);
  const load: Load = {
    latencies: [],
    served: 0,
    failed: 0,
    failures: [],
    sendLags: [],
    wallMs: 0,
  };
  const start = performance.now() + 20;
  let next = 0;
  let settled = 0;
  return new Promise((resolve) => {
    const finish = (index: number, due: number, failure: string | null): void => {
      if (done[index] === true) return;
      done[index] = true;
      if (failure === null) {
        load.served++;
        load.latencies.push(performance.now() - due);
      } else {
        load.failed++;
        if (load.failures.length < 5) load.failures.push(failure);
      }
      settled++;
      if (settled === planned.length) {
        load.wallMs = performance.now() - start;
        agent.destroy();
        resolve(load);
      }
    };
    const send = (index: number, due: number): void => {
      const delivery = planned[index] as Delivery;
      load.sendLags.push(performance.now() - due);
      const req = request(
        url,
        { method: 'POST', agent, headers: headers(delivery), timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on('end', () =>
            finish(index, due, status >= 200 && status < 300 ? null : `answered ${status}`),
          );
          res.on('error', (error) => finish(index, due, error.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (error) => finish(index, due, error.message));
      req.end(delivery.body);
    };
    const tick = (): void => {
      const now = performance.now();
      while (next < planned.length && start + next * interval <= now) {
        send(next, start + next * interval);
        next++;
      }
      if (next < planned.length) {
        setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      }
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
}

/** Waits until the App has no GitHub work left; throws when that takes longer than `ms`. */
async function drained(idle: () => Promise<void>, ms: number): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the App still had GitHub work after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([idle(), late]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

/** Planned deliveries dispatched exactly once, and how many were dispatched more than once. */
function dispatchedOnce(
  counts: FakeGitHubCounts,
  planned: Delivery[],
): { once: number; twice: number } {
  let once = 0;
  let twice = 0;
  for (const delivery of planned) {
    const times = counts.dispatchesByComment.get(delivery.commentId) ?? 0;
    if (times === 1) once++;
    if (times > 1) twice++;
  }
  return { once, twice };
}

/**
 * Target: the App answers signed deliveries with p99 < 50 ms at 200 per second, every one of them
 * answered 2xx, while GitHub takes 100–300 ms per call; after the load its work queue drains and
 * every delivery has been dispatched exactly once.
 *
 * The App (probot behind `createNodeMiddleware`, webhook secret set, so every signature is
 * verified) runs in its own process on loopback. Each delivery is a distinct `/optimize` comment
 * from a writer, so the App does its whole job for each: verify and claim it, answer, then in its
 * work queue read the config (404), look up the permission (write), read the PR head and dispatch
 * the workflow (204), against a fake GitHub (in a third process) that holds every answer for a
 * seeded uniform 100–300 ms. The load is open-loop (see `openLoop`): 2,000 deliveries due every
 * 5 ms, each latency measured from its due time. After the load, the App's queue must drain and
 * every delivery must have been dispatched exactly once.
 *
 * The App's octokit has retry and throttling off here. In production `probot run` turns on
 * octokit's throttling, which spaces an installation's writes (the dispatch) one second apart as
 * GitHub asks; that delays the dispatch, not the answer to the delivery.
 */
async function run(log: Log): Promise<ResultRow[]> {
  const github = await startFakeGitHubProcess(GITHUB_LATENCY);
  const app = await startWebhookApp({
    secret: SECRET,
    githubUrl: github.url,
    selfLogin: SELF,
    concurrency: WORK_CONCURRENCY,
  });
  try {
    const make = deliveries();
    let n = 0;
    const batch = (count: number) => Array.from({ length: count }, () => make(n++));

    const warmup = batch(WARMUP);
    await openLoop(app.url, warmup, WARMUP_RATE);
    await drained(() => app.idle(), DRAIN_TIMEOUT_MS);
    await app.answerTimes(); // the warm-up's are not counted

    const planned = batch(RATE * SECONDS);
    const before = await github.counts();
    const cpuBefore = await app.cpuMs();
    const load = await openLoop(app.url, planned, RATE);
    const answers = await app.answerTimes(); // before the drain: only the load's answers
    const drainMs = await drained(() => app.idle(), DRAIN_TIMEOUT_MS);
    const cpuMs = (await app.cpuMs()) - cpuBefore;
    const counts = await github.counts();
    const { once, twice } = dispatchedOnce(counts, planned);
    const p50 = median(load.latencies);
    const p99 = percentile(load.latencies, 99);
    const max = load.latencies.length === 0 ? Number.NaN : Math.max(...load.latencies);

    log(
      `  GitHub latency ${GITHUB_LATENCY.minMs}–${GITHUB_LATENCY.maxMs} ms per call (uniform, seed ${GITHUB_LATENCY.seed}); App work queue ${WORK_CONCURRENCY} at once; ${WARMUP} unmeasured deliveries first`,
    );
    log(
      `  ${RATE}/s for ${SECONDS} s, open loop: ${load.served} of ${planned.length} planned deliveries answered 2xx in ${(load.wallMs / 1000).toFixed(1)} s; ` +
        `latency from due time p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
        `the client sent p99 ${percentile(load.sendLags, 99).toFixed(1)} ms, at most ${Math.max(...load.sendLags).toFixed(1)} ms late`,
    );
    log(
      `  the App's own answer time (headers parsed → answer written): p50 ${median(answers).toFixed(1)} ms, ` +
        `p99 ${percentile(answers, 99).toFixed(1)} ms, max ${Math.max(...answers).toFixed(1)} ms`,
    );
    log(
      `    failures: ${load.failed}${load.failures.length > 0 ? ` (${load.failures.join('; ')})` : ''}; ` +
        `after the load the App's GitHub work drained in ${drainMs.toFixed(0)} ms: ` +
        `${once} of ${planned.length} dispatched exactly once, ${twice} more than once; ` +
        `GitHub calls: ${counts.config - before.config} config, ${counts.permission - before.permission} permission, ` +
        `${counts.pull - before.pull} pull, ${counts.dispatch - before.dispatch} dispatch, ${counts.unexpected - before.unexpected} unexpected` +
        (counts.unexpectedSamples.length > 0 ? ` (${counts.unexpectedSamples.join('; ')})` : ''),
    );
    const actedPerSecond = planned.length / ((load.wallMs + drainMs) / 1000);
    log(
      `  App process CPU ${(cpuMs / planned.length).toFixed(2)} ms per delivery (answer and GitHub work); ` +
        `deliveries acted on ${actedPerSecond.toFixed(0)}/s from the first due time to the drained queue`,
    );
    return [
      row(NAME, `p99 latency at ${RATE} req/s, GitHub 100-300 ms`, p99, 'ms', {
        op: '<',
        value: 50,
      }),
      row(NAME, `p50 latency at ${RATE} req/s`, p50, 'ms'),
      row(NAME, `max latency at ${RATE} req/s`, max, 'ms'),
      row(NAME, `App-side answer time p99 at ${RATE} req/s`, percentile(answers, 99), 'ms'),
      row(NAME, `served / planned at ${RATE} req/s`, load.served / planned.length, 'ratio', {
        op: '>=',
        value: 1,
      }),
      row(NAME, 'dispatched exactly once / planned, after drain', once / planned.length, 'ratio', {
        op: '>=',
        value: 1,
      }),
      row(NAME, 'App CPU per delivery', cpuMs / planned.length, 'ms'),
      row(NAME, 'queue drain after the load', drainMs, 'ms'),
    ];
  } finally {
    await app.close();
    await github.close();
  }
}

export const webhookBenchmark: Benchmark = { name: NAME, run };
