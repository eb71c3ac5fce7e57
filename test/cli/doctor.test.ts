import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import {
  chainState,
  cli,
  commitLabels,
  demoRules,
  git,
  makeRepo,
  type Rule,
  releasePassesWithSkill,
  ruleNamed,
  SKILL,
  showRunFile,
  smallDesign,
  withInput,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/** `doctor`, the preflight `run` passes before writing anything, exit codes, repeated intents. */

const sandbox = useGitSandbox();
const GOOD_KEY = 'sk-ant-doctor-good-0123456789';
const BAD_KEY = 'sk-ant-doctor-bad-0123456789';

/** An Anthropic-like API that accepts one key for count_tokens. */
let api: Server;
let apiUrl = '';
beforeAll(async () => {
  api = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // The SDK sends the key as x-api-key or as a bearer token, depending on its version.
      const ok =
        req.headers['x-api-key'] === GOOD_KEY || req.headers.authorization === `Bearer ${GOOD_KEY}`;
      const route = `${req.method} ${req.url}`;
      res.setHeader('content-type', 'application/json');
      if (route !== 'POST /v1/messages/count_tokens') {
        res.statusCode = 404;
        res.end(
          JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: route } }),
        );
      } else if (!ok) {
        res.statusCode = 401;
        res.end(
          JSON.stringify({
            type: 'error',
            error: { type: 'authentication_error', message: 'invalid x-api-key' },
          }),
        );
      } else {
        res.end(JSON.stringify({ input_tokens: 3 }));
      }
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => api.close(() => resolve())));

/** The CLI in-process with this key and base URL in its environment. */
async function cliWithKey(cwd: string, key: string, ...args: string[]) {
  const out = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof out) =>
    new Writable({
      write(chunk, _encoding, next) {
        out[name] += String(chunk);
        next();
      },
    });
  const code = await runCli(args, {
    env: { ...process.env, ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: apiUrl },
    cwd,
    stdout: sink('stdout'),
    stderr: sink('stderr'),
  });
  return { code, ...out };
}

const noBranch = (repo: string) => git(repo, 'branch', '--list', 'skill-optimizer/*');

describe('doctor', () => {
  it('lists every check and passes with the scripted model', async () => {
    const repo = makeRepo(sandbox.base, { config: { sandbox: 'process' } });
    const script = writeScript(sandbox.base, demoRules());
    const run = await cli(repo, 'doctor', SKILL, '--scripted', script);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/:.*/, ''))).toEqual([
      'ok    git',
      'ok    config',
      'ok    skill',
      'ok    model',
      'ok    sandbox',
      'ready to run',
    ]);
    expect(lines[2]).toBe(`ok    skill: ${SKILL}: 'keep-a-changelog', committed`);
    expect(lines[3]).toBe(`ok    model: the scripted model from ${script} answers`);
    expect(lines[4]).toMatch(/^ok {4}sandbox: trials run in process/);
    expect(noBranch(repo)).toBe('');
  });

  it('fails without a key, with a missing scripted file and with an invalid config', async () => {
    const repo = makeRepo(sandbox.base);
    const none = await cli(repo, 'doctor');
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(
      'FAIL  model: ANTHROPIC_API_KEY is not set. Export it, or pass --scripted <script> to use the local scripted model.\n',
    );
    expect(none.stdout).toMatch(/1 check\(s\) failed\n$/);

    const missing = join(sandbox.base, 'no-such-script.yml');
    const gone = await cli(repo, 'doctor', '--scripted', missing);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toContain(
      `FAIL  model: the scripted file ${missing} does not exist (--scripted)\n`,
    );

    const broken = makeRepo(sandbox.base, { config: { trials: 'many' } });
    const bad = await cli(broken, 'doctor', '--scripted', writeScript(sandbox.base, demoRules()));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL {2}config: .*trials/m);
  });

  it('asks the API once whether it accepts the key, and never prints the key', async () => {
    const repo = makeRepo(sandbox.base, { config: { sandbox: 'process' } });
    const good = await cliWithKey(repo, GOOD_KEY, 'doctor');
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(
      `ok    model: the API at ${new URL(apiUrl).host} accepts the key (claude-sonnet-4-6)\n`,
    );

    const bad = await cliWithKey(repo, BAD_KEY, 'doctor');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      `FAIL  model: the model API at ${new URL(apiUrl).host} rejected the API key (401): invalid x-api-key; check ANTHROPIC_API_KEY\n`,
    );
    expect(bad.stdout + bad.stderr).not.toContain(BAD_KEY);
  });
});

describe('run checks first and writes nothing when a check fails', () => {
  it('without a key: no branch, no worktree, no vendor commit; status finds no run', async () => {
    const repo = makeRepo(sandbox.base);
    const run = await cli(repo, 'run', SKILL);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'error: ANTHROPIC_API_KEY is not set. Export it, or pass --scripted <script> to use the local scripted model.\n' +
        'nothing was started; see every check with: skill-optimizer doctor\n',
    );
    expect(run.stdout).toBe('');
    expect(noBranch(repo)).toBe('');
    const status = await cli(repo, 'status');
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('no run in this repository');
  });

  it('with a missing scripted file or a rejected key', async () => {
    const repo = makeRepo(sandbox.base, { config: { sandbox: 'process' } });
    const missing = join(sandbox.base, 'missing.yml');
    const gone = await cli(repo, 'run', SKILL, '--scripted', missing);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(
      `error: the scripted file ${missing} does not exist (--scripted)`,
    );

    const bad = await cliWithKey(repo, BAD_KEY, 'run', SKILL);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('rejected the API key (401)');
    expect(noBranch(repo)).toBe('');
  });
});

describe('exit codes and repeated commands', () => {
  it('exits 2 when the run stops on a spent error budget', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = smallDesign(demoRules(), ['fixed-with-pr', 'missing-changelog']);
    const review = ruleNamed(rules, 'review create-file/missing-changelog');
    // Every step-5 review breaks its schema: three failed steps in a row under autopilot.
    const script = writeScript(
      sandbox.base,
      rules.map((r): Rule => (r === review ? withInput(review, { verdict: 'maybe' }, r.name) : r)),
    );
    const run = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(run.stdout).toContain('run stopped: error budget spent: 3 consecutive failed steps');
    expect(run.code).toBe(2);
    expect(chainState(repo).status).toBe('stopped');
  });

  it('exits 0 when the run is done', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = releasePassesWithSkill(smallDesign(demoRules()));
    const run = await cli(
      repo,
      'run',
      SKILL,
      '--autopilot',
      '--scripted',
      writeScript(sandbox.base, rules),
    );
    expect(run.stdout).toContain('run done: every probe passes; accepted at the gate');
    expect(run.code).toBe(0);
  });

  it('re-running with the same --intent resumes without touching intent.md', async () => {
    const repo = makeRepo(sandbox.base);
    const script = writeScript(sandbox.base, demoRules());
    const intent = 'Cover release notes for monorepos.';
    const first = await cli(repo, 'run', SKILL, '--intent', intent, '--scripted', script);
    expect(first.code).toBe(0);
    const intentMd = showRunFile(repo, 'intent.md');
    const labels = commitLabels(repo);

    const again = await cli(repo, 'run', SKILL, '--intent', intent, '--scripted', script);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("resuming run 'keep-a-changelog'");
    expect(showRunFile(repo, 'intent.md')).toBe(intentMd);
    expect(commitLabels(repo)).toEqual(labels);

    const other = await cli(
      repo,
      'run',
      SKILL,
      '--intent',
      'Also cover yanked releases.',
      '--scripted',
      script,
    );
    expect(other.code).toBe(0);
    expect(showRunFile(repo, 'intent.md')).toMatch(
      /Cover release notes for monorepos\.\n\n## .+\n\nAlso cover yanked releases\.$/,
    );
  });
});
