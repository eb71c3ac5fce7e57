import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { getAppBotLogin } from '../../src/github/apps.js';
import { api, failure, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

describe('getAppBotLogin', () => {
  it("names the App's bot login from its slug", async () => {
    const scope = api().get('/app').reply(200, { slug: 'skill-optimizer', id: 1 });
    const { client } = testClient();
    expect(await getAppBotLogin(client)).toBe('skill-optimizer[bot]');
    expect(scope.isDone()).toBe(true);
  });

  it('says plainly when the App cannot be read', async () => {
    const scope = api()
      .get('/app')
      .reply(401, failure('A JSON web token could not be decoded', 401));
    const { client } = testClient();
    await expect(getAppBotLogin(client)).rejects.toThrow(
      'could not read this GitHub App: GitHub rejected the token (401: A JSON web token could not be decoded); it is missing, expired or revoked. Provide a valid token and try again.',
    );
    expect(scope.isDone()).toBe(true);
  });
});
