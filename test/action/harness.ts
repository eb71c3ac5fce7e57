import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import nock from 'nock';
import { git } from '../store/git-fixture.js';

/**
 * The Action's world in temp dirs: a bare `origin` (GitHub's git side) holding `master` and a
 * skill PR branch with `refs/pull/<n>/head`, fresh clones as each job's checkout, the runner's
 * `GITHUB_*` / `INPUT_*` environment, and a nock scope for the REST side that records bodies and
 * flags any that carries a secret.
 */

export const OWNER = 'Codertocat';
export const REPO = 'Hello-World';
export const API = 'https://api.github.com';
export const API_KEY = 'sk-ant-test-KEY-1f2e3d4c5b6a';
export const TOKEN = 'ghs_testTOKEN9a8b7c6d5e4f';
export const SKILL_PR = 2;
export const SKILL_BRANCH = 'changes';
export const EXAMPLE = resolve(import.meta.dirname, '../../examples/keep-a-changelog');

export interface World {
  base: string;
  origin: string;
  skillSha: string;
}

/**
 * A bare origin with `master` and the skill PR (#2, branch `changes`) adding the example skill;
 * with `repository`, its SKILL.md names that upstream source (step 2 reads it).
 */
export function makeWorld(base: string, opts: { repository?: string } = {}): World {
  const seed = join(base, 'seed');
  mkdirSync(seed, { recursive: true });
  git(seed, 'init', '--quiet', '--initial-branch=master');
  writeFileSync(join(seed, 'README.md'), '# skills\n');
  mkdirSync(join(seed, '.github'), { recursive: true });
  writeFileSync(
    join(seed, '.github', 'skill-optimizer.yml'),
    'models:\n  bench: [claude-sonnet-4-6]\ntrials: 1\n',
  );
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'initial');
  git(seed, 'switch', '--quiet', '-c', SKILL_BRANCH);
  const skill = join(seed, 'skills', 'keep-a-changelog');
  cpSync(join(EXAMPLE, 'skill'), skill, { recursive: true });
  if (opts.repository !== undefined) {
    const text = readFileSync(join(skill, 'SKILL.md'), 'utf8');
    writeFileSync(
      join(skill, 'SKILL.md'),
      text.replace(/^---\n/, `---\nrepository: ${opts.repository}\n`),
    );
  }
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'Add the keep-a-changelog skill');
  const skillSha = git(seed, 'rev-parse', 'HEAD');
  const origin = join(base, 'origin.git');
  git(base, 'clone', '--quiet', '--bare', seed, origin);
  git(origin, 'update-ref', `refs/pull/${SKILL_PR}/head`, skillSha);
  return { base, origin, skillSha };
}

let jobs = 0;

/** A job's checkout: a fresh clone of origin (the runner starts clean every time). */
export function checkout(world: World, ref = 'master'): string {
  jobs += 1;
  const dir = join(world.base, `job-${jobs}`);
  git(world.base, 'clone', '--quiet', '--branch', ref, world.origin, dir);
  return dir;
}

export interface JobFiles {
  output: string;
  summary: string;
}

/**
 * Sets the runner's environment for one job (returns a restore function). The skill PR is a
 * same-repository PR unless the payload says otherwise.
 */
export function jobEnv(opts: {
  workspace: string;
  eventName: string;
  payload: unknown;
  inputs: Record<string, string>;
}): { files: JobFiles; restore: () => void } {
  const dir = join(opts.workspace, '..', `${opts.workspace.split('/').pop()}-runner`);
  mkdirSync(dir, { recursive: true });
  const files = { output: join(dir, 'output'), summary: join(dir, 'summary') };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  const eventPath = join(dir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(opts.payload));
  const vars: Record<string, string> = {
    GITHUB_EVENT_NAME: opts.eventName,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_WORKSPACE: opts.workspace,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: API,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: dir,
  };
  for (const [name, value] of Object.entries(opts.inputs)) {
    vars[`INPUT_${name.toUpperCase()}`] = value;
  }
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(vars)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  return {
    files,
    restore() {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}

/** GITHUB_OUTPUT's `name<<delimiter` blocks as a record. */
export function readOutputs(file: string): Record<string, string> {
  const text = readFileSync(file, 'utf8');
  const outputs: Record<string, string> = {};
  const block = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const match of text.matchAll(block)) outputs[match[1] ?? ''] = match[3] ?? '';
  return outputs;
}

/** Request bodies seen by nock, and any that carried a secret. */
export class Wire {
  readonly leaks: string[] = [];
  readonly bodies: Array<{ what: string; body: unknown }> = [];

  /** A nock body matcher that records the body and checks it for the secrets. */
  check(what: string, expected?: (body: Record<string, unknown>) => boolean) {
    return (body: Record<string, unknown>) => {
      const text = JSON.stringify(body);
      for (const secret of [API_KEY, TOKEN]) if (text.includes(secret)) this.leaks.push(what);
      this.bodies.push({ what, body });
      return expected ? expected(body) : true;
    };
  }

  last(what: string): Record<string, unknown> | undefined {
    return this.bodies.filter((b) => b.what === what).at(-1)?.body as
      | Record<string, unknown>
      | undefined;
  }
}

export function api(): nock.Scope {
  acceptKey();
  return nock(API);
}

/**
 * The Anthropic API answering the preflight's key check (a free token count) with API_KEY
 * accepted; tests with the scripted server as ANTHROPIC_BASE_URL never reach it.
 */
export function acceptKey(): nock.Scope {
  return nock('https://api.anthropic.com', { reqheaders: { authorization: `Bearer ${API_KEY}` } })
    .post('/v1/messages/count_tokens')
    .optionally()
    .reply(200, { input_tokens: 3 })
    .persist();
}

export const repoPath = `/repos/${OWNER}/${REPO}`;

/** The GitHub REST shape of a pull request, enough for getPullRequest. */
export function pullJson(opts: {
  number: number;
  headRef: string;
  headSha: string;
  body?: string;
  fork?: boolean;
}) {
  return {
    number: opts.number,
    state: 'open',
    draft: false,
    body: opts.body ?? '',
    user: { login: 'octocat' },
    head: {
      ref: opts.headRef,
      sha: opts.headSha,
      repo: { full_name: opts.fork ? 'someone/Hello-World' : `${OWNER}/${REPO}` },
    },
    base: { ref: 'master', repo: { full_name: `${OWNER}/${REPO}` } },
    html_url: `https://github.com/${OWNER}/${REPO}/pull/${opts.number}`,
  };
}
