import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelAccess } from '../../src/access/model-access.js';

const NO_BWRAP = 'bwrap not found in /usr/bin/bwrap';
const cannotStart = async () => NO_BWRAP;

describe('openModelAccess: the sandbox where a secret is in reach', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'so-access-'));
    script = join(dir, 'script.yml');
    await writeFile(script, "rules:\n  - reply: { content: [{ type: text, text: 'done' }] }\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = (env: NodeJS.ProcessEnv, scriptedPath: string | undefined) =>
    openModelAccess({
      env,
      scriptedPath,
      runner: 'messages',
      sandboxMode: 'auto',
      probeBubblewrap: cannotStart,
    });

  it('a real API key: auto refuses to fall back to process', async () => {
    await expect(open({ ANTHROPIC_API_KEY: 'sk-ant-real' }, undefined)).rejects.toThrow(
      /run only in bubblewrap while a secret is in reach.*bwrap not found/,
    );
  });

  it('on GitHub Actions even the scripted model counts: the runner holds tokens', async () => {
    await expect(open({ GITHUB_ACTIONS: 'true' }, script)).rejects.toThrow(
      /set `sandbox: process` in the config/,
    );
  });

  it('the scripted model with a key still set: the key is in reach, so no fallback', async () => {
    await expect(open({ ANTHROPIC_API_KEY: 'sk-ant-real' }, script)).rejects.toThrow(
      /secret is in reach/,
    );
  });

  it('the scripted model locally: falls back with the reason', async () => {
    const access = await open({}, script);
    try {
      expect(access.sandbox.level).toBe('process');
      expect(access.sandbox.fallbackReason).toBe(NO_BWRAP);
    } finally {
      await access.close();
    }
  });

  it('an explicit process mode runs with a real key', async () => {
    const access = await openModelAccess({
      env: { ANTHROPIC_API_KEY: 'sk-ant-real' },
      scriptedPath: undefined,
      runner: 'messages',
      sandboxMode: 'process',
      probeBubblewrap: cannotStart,
    });
    try {
      expect(access.sandbox.level).toBe('process');
      expect(access.sandbox.fallbackReason).toBeNull();
    } finally {
      await access.close();
    }
  });
});
