import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createFork, getPermission, readFileAt } from '../../src/github/repos.js';
import { api, failure, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const permissionPath = (user: string) => `/repos/${OWNER}/${REPO}/collaborators/${user}/permission`;

describe('getPermission', () => {
  it('returns the role, telling maintain from write', async () => {
    const scope = api()
      .get(permissionPath('alice'))
      .reply(200, { permission: 'write', role_name: 'maintain', user: { login: 'alice' } })
      .get(permissionPath('bob'))
      .reply(200, { permission: 'read', role_name: 'read', user: { login: 'bob' } });
    const { client } = testClient();
    expect(await getPermission(client, { owner: OWNER, repo: REPO, username: 'alice' })).toBe(
      'maintain',
    );
    expect(await getPermission(client, { owner: OWNER, repo: REPO, username: 'bob' })).toBe('read');
    expect(scope.isDone()).toBe(true);
  });

  it('falls back to the base permission for a custom role', async () => {
    const scope = api()
      .get(permissionPath('carol'))
      .reply(200, { permission: 'write', role_name: 'skill-reviewer', user: { login: 'carol' } });
    const { client } = testClient();
    expect(await getPermission(client, { owner: OWNER, repo: REPO, username: 'carol' })).toBe(
      'write',
    );
    expect(scope.isDone()).toBe(true);
  });

  it('is null for a user GitHub does not know (404)', async () => {
    const scope = api().get(permissionPath('ghost')).reply(404, failure('Not Found', 404));
    const { client } = testClient();
    expect(await getPermission(client, { owner: OWNER, repo: REPO, username: 'ghost' })).toBeNull();
    expect(scope.isDone()).toBe(true);
  });
});

describe('readFileAt', () => {
  const path = `/repos/${OWNER}/${REPO}/contents/skills%2Fdemo%2FSKILL.md`;

  it('decodes the file at the ref', async () => {
    const scope = api()
      .get(path)
      .query({ ref: 'feature' })
      .reply(200, {
        type: 'file',
        encoding: 'base64',
        sha: sha('blob'),
        content: `${Buffer.from('# Demo\nhé\n').toString('base64')}\n`,
      });
    const { client } = testClient();
    expect(
      await readFileAt(client, {
        owner: OWNER,
        repo: REPO,
        ref: 'feature',
        path: 'skills/demo/SKILL.md',
      }),
    ).toBe('# Demo\nhé\n');
    expect(scope.isDone()).toBe(true);
  });

  it('reads a file over 1 MB through its blob', async () => {
    const scope = api()
      .get(path)
      .query({ ref: 'main' })
      .reply(200, { type: 'file', encoding: 'none', sha: sha('big'), content: '' })
      .get(`/repos/${OWNER}/${REPO}/git/blobs/${sha('big')}`)
      .reply(200, { encoding: 'base64', content: Buffer.from('big').toString('base64') });
    const { client } = testClient();
    expect(
      await readFileAt(client, {
        owner: OWNER,
        repo: REPO,
        ref: 'main',
        path: 'skills/demo/SKILL.md',
      }),
    ).toBe('big');
    expect(scope.isDone()).toBe(true);
  });

  it('is null for a missing file or a folder', async () => {
    const scope = api()
      .get(path)
      .query({ ref: 'main' })
      .reply(404, failure('Not Found', 404))
      .get(path)
      .query({ ref: 'main' })
      .reply(200, [{ type: 'file', name: 'x' }]);
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, ref: 'main', path: 'skills/demo/SKILL.md' };
    expect(await readFileAt(client, args)).toBeNull();
    expect(await readFileAt(client, args)).toBeNull();
    expect(scope.isDone()).toBe(true);
  });
});

describe('createFork', () => {
  it('forks the default branch and names the fork', async () => {
    const scope = api()
      .post(`/repos/upstream/skills/forks`, { default_branch_only: true })
      .reply(202, { name: 'skills', owner: { login: 'skill-optimizer-bot' } });
    const { client } = testClient();
    expect(await createFork(client, { owner: 'upstream', repo: 'skills' })).toEqual({
      owner: 'skill-optimizer-bot',
      repo: 'skills',
    });
    expect(scope.isDone()).toBe(true);
  });
});
