import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { PathEscapeError } from '../../src/errors.js';
import { RefConflictError } from '../../src/github/errors.js';
import { GitHubRunStore } from '../../src/github/run-store.js';
import { api, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const base = `/repos/${OWNER}/${REPO}`;
const BRANCH = 'skill-optimizer/demo';
const RUN_DIR = '.skill-optimizer/demo';
const refPath = `${base}/git/ref/heads%2Fskill-optimizer%2Fdemo`;
const H1 = sha('h1');
const AUTHOR = { name: 'Skill Optimizer', email: 'skill-optimizer@users.noreply.github.com' };

function openStore() {
  const { client } = testClient();
  return new GitHubRunStore({
    client,
    owner: OWNER,
    repo: REPO,
    branch: BRANCH,
    runDir: RUN_DIR,
    slug: 'demo',
    author: AUTHOR,
  });
}

/** The branch at H1: .skill-optimizer/demo/{intent.md, 01-functionality.md, tests/...}. */
function serveHead(scope: nock.Scope, extra: object[] = []): nock.Scope {
  return scope
    .get(refPath)
    .reply(200, { object: { sha: H1 } })
    .get(`${base}/git/trees/${H1}`)
    .reply(200, {
      sha: sha('root1'),
      truncated: false,
      tree: [
        { path: '.skill-optimizer', mode: '040000', type: 'tree', sha: sha('t-so') },
        { path: 'README.md', mode: '100644', type: 'blob', sha: sha('b-readme') },
      ],
    })
    .get(`${base}/git/trees/${sha('t-so')}`)
    .reply(200, {
      truncated: false,
      tree: [{ path: 'demo', mode: '040000', type: 'tree', sha: sha('t-run') }],
    })
    .get(`${base}/git/trees/${sha('t-run')}`)
    .query({ recursive: '1' })
    .reply(200, {
      truncated: false,
      tree: [
        { path: '01-functionality.md', mode: '100644', type: 'blob', sha: sha('b-01') },
        { path: 'intent.md', mode: '100644', type: 'blob', sha: sha('b-intent') },
        { path: 'tests', mode: '040000', type: 'tree', sha: sha('t-tests') },
        { path: 'tests/suite.yml', mode: '100644', type: 'blob', sha: sha('b-suite') },
        { path: 'tests/f1', mode: '040000', type: 'tree', sha: sha('t-f1') },
        { path: 'tests/f1/spec.yaml', mode: '100644', type: 'blob', sha: sha('b-spec') },
        ...extra,
      ],
    });
}

function blob(text: string) {
  return { encoding: 'base64', content: Buffer.from(text).toString('base64') };
}

describe('GitHubRunStore reads', () => {
  it('reads, lists and checks files at the branch head, fetching each tree once', async () => {
    const scope = serveHead(api())
      .get(`${base}/git/blobs/${sha('b-intent')}`)
      .reply(200, blob('Make it trigger on changelog edits.\n'))
      .get(`${base}/git/blobs/${sha('b-spec')}`)
      .reply(200, blob('picked: true\n'));
    const store = openStore();
    expect(await store.read('intent.md')).toBe('Make it trigger on changelog edits.\n');
    expect((await store.readBytes('./tests//f1/spec.yaml'))?.toString()).toBe('picked: true\n');
    expect(await store.read('missing.md')).toBeNull();
    expect(await store.list('tests')).toEqual(['tests/f1/spec.yaml', 'tests/suite.yml']);
    expect(await store.list('')).toEqual([
      '01-functionality.md',
      'intent.md',
      'tests/f1/spec.yaml',
      'tests/suite.yml',
    ]);
    expect(await store.list('intent.md')).toEqual([]);
    expect(await store.exists('tests')).toBe(true);
    expect(await store.exists('tests/suite.yml')).toBe(true);
    expect(await store.exists('tests/f')).toBe(false);
    expect(await store.exists('')).toBe(true);
    expect(await store.head()).toBe(H1);
    expect(scope.isDone()).toBe(true);
  });

  it('refuses a symlink in the run dir (mode 120000) instead of reading its target as a file', async () => {
    const scope = serveHead(api(), [
      { path: 'vendored-skill', mode: '040000', type: 'tree', sha: sha('t-vendored') },
      { path: 'vendored-skill/SKILL.md', mode: '100644', type: 'blob', sha: sha('b-skill') },
      { path: 'vendored-skill/leak.md', mode: '120000', type: 'blob', sha: sha('b-link') },
    ]);
    const store = openStore();
    const read = store.read('vendored-skill/SKILL.md');
    await expect(read).rejects.toBeInstanceOf(PathEscapeError);
    await expect(read).rejects.toThrow(
      `${RUN_DIR}/vendored-skill/leak.md at ${H1.slice(0, 12)} on ${BRANCH} is a symlink (git mode 120000)`,
    );
    expect(scope.isDone()).toBe(true);
  });

  it('reads an earlier commit, where the run dir may not exist yet', async () => {
    const earlier = sha('h0');
    const scope = api()
      .get(`${base}/git/trees/${earlier}`)
      .reply(200, { sha: sha('root0'), truncated: false, tree: [] });
    const store = openStore();
    expect(await store.read('intent.md', earlier)).toBeNull();
    expect(await store.list('', earlier)).toEqual([]);
    await expect(store.read('intent.md', 'main~1')).rejects.toThrow("not a commit sha: 'main~1'");
    expect(scope.isDone()).toBe(true);
  });

  it('keeps every path inside the run dir and has no disk', async () => {
    const store = openStore();
    await expect(store.read('../../README.md')).rejects.toThrow(PathEscapeError);
    await expect(store.list('/etc')).rejects.toThrow(PathEscapeError);
    await expect(store.commit('m', [{ path: '.git/config', content: 'x' }])).rejects.toThrow(
      PathEscapeError,
    );
    expect(() => store.absolutePath('intent.md')).toThrow(/has no files on disk/);
    expect(await store.checkpoint('before maintenance')).toBeNull();
    expect(() => new GitHubRunStore({ ...storeArgs(), branch: 'a..b' })).toThrow(
      /cannot name a branch/,
    );
    expect(() => new GitHubRunStore({ ...storeArgs(), slug: '../x' })).toThrow(/cannot name a run/);
  });
});

function storeArgs() {
  const { client } = testClient();
  return { client, owner: OWNER, repo: REPO, branch: BRANCH, runDir: RUN_DIR, slug: 'demo' };
}

describe('GitHubRunStore commits', () => {
  it('commits on the head it last saw and moves on to the new commit', async () => {
    const scope = serveHead(api())
      .get(refPath)
      .reply(200, { object: { sha: H1 } })
      .get(`${base}/git/trees/${sha('t-run')}`)
      .reply(200, {
        truncated: false,
        tree: [{ path: 'tests', mode: '040000', type: 'tree', sha: sha('t-tests') }],
      })
      .get(`${base}/git/trees/${sha('t-tests')}`)
      .query({ recursive: '1' })
      .reply(200, {
        truncated: false,
        tree: [
          { path: 'suite.yml', mode: '100644', type: 'blob', sha: sha('b-suite') },
          { path: 'f1', mode: '040000', type: 'tree', sha: sha('t-f1') },
          { path: 'f1/spec.yaml', mode: '100644', type: 'blob', sha: sha('b-spec') },
        ],
      })
      .post(`${base}/git/trees`, {
        base_tree: sha('root1'),
        tree: [
          {
            path: `${RUN_DIR}/02-submissions.md`,
            mode: '100644',
            type: 'blob',
            content: '# Submissions\n',
          },
          { path: `${RUN_DIR}/tests/f1/spec.yaml`, mode: '100644', type: 'blob', sha: null },
          { path: `${RUN_DIR}/tests/suite.yml`, mode: '100644', type: 'blob', sha: null },
        ],
      })
      .reply(201, { sha: sha('root2') })
      .post(`${base}/git/commits`, {
        message: 'skill-optimizer(demo): 02 submissions — none',
        tree: sha('root2'),
        parents: [H1],
        author: AUTHOR,
      })
      .reply(201, { sha: sha('h2') })
      .patch(`${base}/git/refs/heads%2Fskill-optimizer%2Fdemo`, { sha: sha('h2'), force: false })
      .reply(200, {});
    const store = openStore();
    expect(await store.exists('intent.md')).toBe(true);
    const commit = await store.commit('skill-optimizer(demo): 02 submissions — none', [
      { path: '02-submissions.md', content: '# Submissions\n' },
      { path: 'tests', delete: true },
    ]);
    expect(commit).toBe(sha('h2'));
    expect(await store.head()).toBe(sha('h2'));
    expect(scope.isDone()).toBe(true);
  });

  it('fails with RefConflictError when a human pushed after the store read the branch', async () => {
    const scope = serveHead(api())
      .get(`${base}/git/blobs/${sha('b-intent')}`)
      .reply(200, blob('intent\n'))
      .get(refPath)
      .reply(200, { object: { sha: sha('human') } });
    const store = openStore();
    await store.read('intent.md');
    await expect(
      store.commit('skill-optimizer(demo): 03 design-tests — 4 probes', [
        { path: '03-test-proposals.md', content: 'x' },
      ]),
    ).rejects.toThrow(RefConflictError);
    expect(await store.head()).toBe(H1);
    expect(scope.isDone()).toBe(true);
  });
});

describe('GitHubRunStore history', () => {
  const commitsPath = `${base}/commits`;

  it('finds the newest commit touching any path, in branch order', async () => {
    const scope = api()
      .get(refPath)
      .reply(200, { object: { sha: H1 } })
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/07-analysis.md`, per_page: 1 })
      .reply(200, [{ sha: sha('c-older') }])
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/tests`, per_page: 1 })
      .reply(200, [{ sha: sha('c-newer') }])
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/never.md`, per_page: 1 })
      .reply(200, [])
      .get(`${base}/compare/${sha('c-older')}...${sha('c-newer')}`)
      .query({ per_page: 1 })
      .reply(200, { status: 'ahead', ahead_by: 2, behind_by: 0 });
    const store = openStore();
    expect(await store.lastCommitTouching(['07-analysis.md', 'tests', 'never.md'])).toBe(
      sha('c-newer'),
    );
    expect(await store.lastCommitTouching([])).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('isStale: an input committed after the output makes the step stale', async () => {
    const scope = serveHead(api())
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/intent.md`, per_page: 1 })
      .reply(200, [{ sha: sha('c-intent') }])
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/01-functionality.md`, per_page: 1 })
      .reply(200, [{ sha: sha('c-func') }])
      .get(`${base}/compare/${sha('c-intent')}...${sha('c-func')}`)
      .query({ per_page: 1 })
      .reply(200, { status: 'behind', ahead_by: 0, behind_by: 1 });
    const store = openStore();
    expect(await store.isStale(['01-functionality.md'], ['intent.md'])).toBe(true);
    expect(await store.isStale(['02-submissions.md'], ['intent.md'])).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it('isStale: an output committed after its inputs is fresh', async () => {
    const scope = serveHead(api())
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/intent.md`, per_page: 1 })
      .reply(200, [{ sha: sha('c-intent') }])
      .get(commitsPath)
      .query({ sha: H1, path: `${RUN_DIR}/01-functionality.md`, per_page: 1 })
      .reply(200, [{ sha: sha('c-func') }])
      .get(`${base}/compare/${sha('c-intent')}...${sha('c-func')}`)
      .query({ per_page: 1 })
      .reply(200, { status: 'ahead', ahead_by: 1, behind_by: 0 });
    const store = openStore();
    expect(await store.isStale(['01-functionality.md'], ['intent.md'])).toBe(false);
    expect(await store.isAncestor(H1, H1)).toBe(true);
    expect(scope.isDone()).toBe(true);
  });
});
