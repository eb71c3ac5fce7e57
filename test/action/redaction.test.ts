import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/action/run.js';
import { parseScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { REDACTED } from '../../src/text/redact.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import {
  API_KEY,
  api,
  checkout,
  EXAMPLE,
  jobEnv,
  makeWorld,
  OWNER,
  pullJson,
  REPO,
  readOutputs,
  repoPath,
  SKILL_BRANCH,
  SKILL_PR,
  TOKEN,
  type World,
} from './harness.js';

/**
 * A model that leaks: step 1's answer carries a fake Anthropic key, a fake GitHub token and the
 * job's own API key, and names a wrapper target built to break out of its code span (a mention,
 * HTML, a link). The label job runs the real Action end to end; nothing it sends to GitHub, writes
 * to the job summary, logs, or pushes to the work branch may carry a secret, and the gate review
 * shows the hostile target inert.
 */

const sandbox = useGitSandbox();
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const CHAIN_PR = 3;
const FAKE_ANTHROPIC = `sk-ant-api03-${'ModelLeak_'.repeat(9)}QQ`;
const FAKE_GITHUB = `ghp_${'LeakedTok3'.repeat(3)}n456789`;
const SECRETS = [FAKE_ANTHROPIC, FAKE_GITHUB, API_KEY, TOKEN];
const TARGET = `x\` @evil <img src=x onerror=alert(1)> [a](https://evil.example) ${FAKE_GITHUB} \`y`;

let world: World;
let server: ScriptedServer;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

/** The demo's chain script with step 1's answer leaking secrets and naming a hostile wrapper target. */
function leakyScript(): string {
  const script = parse(readFileSync(join(EXAMPLE, 'chain-script.yml'), 'utf8'));
  const input = script.rules[0].reply.content[0].input;
  input.summary = `Keeps a changelog. Debug: ANTHROPIC_API_KEY=${FAKE_ANTHROPIC} and ${API_KEY}.`;
  input.responsibilities[0].description = `Record a change; auth with ${FAKE_GITHUB}.`;
  input.likely_wrapper = true;
  input.wrapper_points_to = TARGET;
  return JSON.stringify(script);
}

beforeAll(async () => {
  world = makeWorld(join(sandbox.base, 'leak'));
  server = await startScriptedServer({ script: parseScript(leakyScript(), 'leaky.json') });
  process.env.ANTHROPIC_BASE_URL = server.url;
});

afterAll(async () => {
  await server.close();
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
});

afterEach(() => {
  nock.cleanAll();
  vi.restoreAllMocks();
});

function leaksIn(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret));
}

describe('a model that echoes secrets', () => {
  it('leaks nothing to GitHub, the job summary, the log or the pushed commits', async () => {
    const sent: Array<{ what: string; body: string }> = [];
    const scope = api();
    scope.on('request', (req: { method?: string; url?: string }, _i: unknown, body?: string) => {
      sent.push({ what: `${req.method} ${req.url}`, body: body ?? '' });
    });
    scope
      .get(`${repoPath}/collaborators/octocat/permission`)
      .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } })
      .get(`${repoPath}/pulls/${SKILL_PR}`)
      .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }))
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }])
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${repoPath}/pulls`)
      .reply(201, { number: CHAIN_PR, html_url: `https://github.com/${OWNER}/${REPO}/pull/3` })
      .post(`${repoPath}/check-runs`)
      .reply(201, { id: 81 })
      .patch(`${repoPath}/check-runs/81`)
      .reply(200, { id: 81 })
      .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`)
      .reply(200, { id: 500 })
      .post(`${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`)
      .reply(201, {});
    const tracker = api().persist().patch(`${repoPath}/pulls/${CHAIN_PR}`).reply(200, {});
    tracker.on('request', (_req: unknown, _i: unknown, body?: string) => {
      sent.push({ what: 'tracker', body: body ?? '' });
    });
    const logged: string[] = [];
    const realWrite = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return realWrite(chunk);
    });

    const payload = example('pull_request', 'labeled');
    payload.label.name = 'skill-optimizer';
    payload.pull_request.state = 'open';
    payload.pull_request.number = SKILL_PR;
    payload.pull_request.head.ref = SKILL_BRANCH;
    payload.pull_request.head.sha = world.skillSha;
    payload.sender = user('octocat');
    const workspace = checkout(world);
    const env = jobEnv({
      workspace,
      eventName: 'pull_request',
      payload,
      inputs: { 'anthropic-api-key': API_KEY, 'github-token': TOKEN },
    });
    let summary: string;
    let outputs: Record<string, string>;
    try {
      await run({ github: { retry: false, throttle: false }, publish: { sleep: async () => {} } });
      summary = readFileSync(env.files.summary, 'utf8');
      outputs = readOutputs(env.files.output);
    } finally {
      env.restore();
    }

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'gate', gate: 'wrapper' });

    // GitHub: every body sent, the tracker edits included.
    expect(sent.filter((s) => s.what === 'tracker').length).toBeGreaterThan(0);
    expect(sent.flatMap((s) => leaksIn(s.body).map((leak) => `${s.what}: ${leak}`))).toEqual([]);
    const review = sent.find((s) => s.what.endsWith(`/pulls/${CHAIN_PR}/reviews`));
    const reviewBody = String(JSON.parse(review?.body ?? '{}').body);
    // The hostile target stays in one code span (fenced longer than its backticks), redacted.
    expect(reviewBody).toContain(
      `likely a thin wrapper pointing to \`\`x\` @evil <img src=x onerror=alert(1)> [a](https://evil.example) ${REDACTED} \`y\`\`. Optimise the target instead`,
    );
    const check = sent.find((s) => s.what.endsWith('/check-runs/81'));
    expect(check?.body).toContain(REDACTED);

    // The job summary and the log (the runner's own ::add-mask:: commands aside).
    expect(leaksIn(summary)).toEqual([]);
    expect(summary).toContain(REDACTED);
    const log = logged.filter((line) => !line.startsWith('::add-mask::')).join('');
    expect(leaksIn(log)).toEqual([]);

    // The work branch on origin: every blob of every commit, and every message.
    const objects = git(world.origin, 'rev-list', '--objects', BRANCH)
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '');
    const blobs = objects
      .filter((object) => git(world.origin, 'cat-file', '-t', object) === 'blob')
      .map((blob) => git(world.origin, 'cat-file', 'blob', blob));
    const messages = git(world.origin, 'log', '--format=%B', BRANCH);
    expect(leaksIn([messages, ...blobs].join('\n'))).toEqual([]);
    const report = git(
      world.origin,
      'show',
      `${BRANCH}:.skill-optimizer/keep-a-changelog/01-functionality.md`,
    );
    expect(report).toContain(`Debug: ANTHROPIC_API_KEY=${REDACTED} and ${REDACTED}.`);
  });

  it('a failure naming a secret is redacted in the log, the annotations and the job summary', async () => {
    const logged: string[] = [];
    const realWrite = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return realWrite(chunk);
    });
    const workspace = checkout(world);
    const configPath = `.github/config-${FAKE_GITHUB}.yml`;
    mkdirSync(join(workspace, '.github'), { recursive: true });
    writeFileSync(join(workspace, configPath), 'not_a_setting: 1\n');
    const payload = example('pull_request', 'labeled');
    payload.sender = user('octocat');
    const env = jobEnv({
      workspace,
      eventName: 'pull_request',
      payload,
      inputs: { 'anthropic-api-key': API_KEY, 'github-token': TOKEN, 'config-path': configPath },
    });
    let summary: string;
    let outcome: Awaited<ReturnType<typeof run>>;
    try {
      outcome = await run({ github: { retry: false, throttle: false } });
      summary = readFileSync(env.files.summary, 'utf8');
    } finally {
      env.restore();
      process.exitCode = undefined;
    }

    expect(outcome.status).toBe('failed');
    // The failure really names the file: the secret is in it, redacted only on the way out.
    expect(outcome.message).toContain(FAKE_GITHUB);
    expect(summary).toContain(`config-${REDACTED}.yml`);
    expect(leaksIn(summary)).toEqual([]);
    const log = logged.filter((line) => !line.startsWith('::add-mask::')).join('');
    expect(log).toContain(`::error::`);
    expect(log).toContain(`config-${REDACTED}.yml`);
    expect(leaksIn(log)).toEqual([]);
  });
});
