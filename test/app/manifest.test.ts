import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The App's permissions are the ones its own calls need (src/app/github-port.ts); the chain's
 * writes (commits, PRs, reviews, check runs) use the workflow's token, not the App's.
 */
describe('app.yml', () => {
  it('asks for least privilege: pull requests are only read by the App', async () => {
    const manifest = parse(await readFile('app.yml', 'utf8')) as {
      default_permissions: Record<string, string>;
    };
    expect(manifest.default_permissions).toEqual({
      metadata: 'read', // collaborator permission
      contents: 'read', // the config file on the default branch
      pull_requests: 'read', // PR heads, chain PR bodies, review comments
      issues: 'write', // refusals and status replies, through the issue comments API
      actions: 'write', // workflow_dispatch
    });
  });
});
