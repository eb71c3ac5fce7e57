import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { REDACTED, registerSecret } from '../../src/text/redact.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

/**
 * The local commit writer (the CLI's store, and the Action's: its commits are pushed as they
 * are) never records a secret: not in a file it writes, not in one a human left on disk for a
 * checkpoint, not in a commit message.
 */

const sandbox = useGitSandbox();
const open: LocalRunStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

const ANTHROPIC = `sk-ant-api03-${'LocalFake_'.repeat(9)}ZZ`;
const GITHUB = `ghp_${'abcdef0123'.repeat(3)}456789`;
const REGISTERED = 'registered-in-the-store-test';
registerSecret(REGISTERED);

/** Every blob in every commit of the branch, and every commit message, as one text. */
function everythingOn(repo: string, branch: string): string {
  const messages = git(repo, 'log', '--format=%B', branch);
  const blobs = git(repo, 'rev-list', '--objects', branch)
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((object) => git(repo, 'cat-file', '-t', object) === 'blob')
    .map((blob) => git(repo, 'cat-file', 'blob', blob));
  return [messages, ...blobs].join('\n');
}

describe('LocalRunStore redaction', () => {
  it('commits results.jsonl transcripts, reports, bytes and messages without a secret', async () => {
    const repo = await makeRepo(sandbox.base, { 'README.md': '# demo\n' });
    const store = await openLocalRun({ repoDir: repo, slug: 'demo' });
    open.push(store);
    const transcript = `the agent printed ${ANTHROPIC} and ${GITHUB} and ${REGISTERED}`;
    const record = { probe: 'p1', transcript: [{ role: 'assistant', text: transcript }] };
    await store.commit(`skill-optimizer(demo): 05 bench — saw ${ANTHROPIC}`, [
      { path: 'bench/1/results.jsonl', content: `${JSON.stringify(record)}\n` },
      { path: '05-bench.md', content: `# Bench\n\n${transcript}\n` },
      { path: 'raw.bin', content: Buffer.concat([Buffer.from([0, 255]), Buffer.from(GITHUB)]) },
    ]);

    const all = everythingOn(repo, store.branch);
    for (const secret of [ANTHROPIC, GITHUB, REGISTERED]) expect(all).not.toContain(secret);
    expect(git(repo, 'log', '-1', '--format=%s', store.branch)).toBe(
      `skill-optimizer(demo): 05 bench — saw ${REDACTED}`,
    );
    const results = JSON.parse((await store.read('bench/1/results.jsonl')) ?? '{}');
    expect(results.transcript[0].text).toBe(
      `the agent printed ${REDACTED} and ${REDACTED} and ${REDACTED}`,
    );
    expect(await store.readBytes('raw.bin')).toEqual(
      Buffer.concat([Buffer.from([0, 255]), Buffer.from(REDACTED)]),
    );
  });

  it('a checkpoint of files edited on disk commits them redacted, and fixes the file too', async () => {
    const repo = await makeRepo(sandbox.base, { 'README.md': '# demo\n' });
    const store = await openLocalRun({ repoDir: repo, slug: 'demo' });
    open.push(store);
    await store.commit('one', [{ path: 'tests/f/spec.yaml', content: 'picked: false\n' }]);
    const file = store.absolutePath('tests/f/spec.yaml');
    await writeFile(file, `picked: true\nnote: token ${GITHUB}\n`);

    const sha = await store.checkpoint(`checkpoint with ${ANTHROPIC}`, ['tests']);

    expect(sha).not.toBeNull();
    const all = everythingOn(repo, store.branch);
    for (const secret of [ANTHROPIC, GITHUB]) expect(all).not.toContain(secret);
    expect(await store.read('tests/f/spec.yaml')).toBe(`picked: true\nnote: token ${REDACTED}\n`);
    expect(await readFile(file, 'utf8')).toBe(`picked: true\nnote: token ${REDACTED}\n`);
    expect(git(store.worktreeDir, 'status', '--porcelain')).toBe('');
  });
});
