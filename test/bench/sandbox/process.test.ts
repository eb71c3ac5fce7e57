import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../../src/bench/sandbox/index.js';
import { describeLimits } from './limits.shared.js';
import { connectScript, withLoopbackServer } from './loopback.js';
import { holdParentSecret, type ParentSecret } from './parent-secret.js';

/** What a POSIX shell adds on its own; everything else in `env` must come from the sandbox. */
const SHELL_VARS = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

describe('process sandbox (fallback)', () => {
  let sandbox: Sandbox;
  let secret: ParentSecret;
  let trial: string;

  beforeAll(async () => {
    secret = await holdParentSecret();
    sandbox = await createSandbox('process', { secretInReach: false });
  });
  afterAll(async () => {
    await secret.cleanup();
  });
  beforeEach(async () => {
    trial = await realpath(await mkdtemp(join(tmpdir(), 'so-trial-')));
  });
  afterEach(async () => {
    await rm(trial, { recursive: true, force: true });
  });

  it('reports its level so the bench summary can state it', () => {
    expect(sandbox.level).toBe('process');
    expect(sandbox.fallbackReason).toBeNull();
  });

  it('starts from a scrubbed environment: the parent secret is not in env', async () => {
    expect(process.env.SO_TEST_SECRET).toBe(secret.value);
    const result = await sandbox.runShell('env', { cwd: trial, timeoutMs: 20_000 });
    expect(result.stdout).not.toContain(secret.value);
    const names = result.stdout
      .trim()
      .split('\n')
      .map((line) => line.slice(0, line.indexOf('=')))
      .filter((name) => !SHELL_VARS.has(name));
    expect(names.sort()).toEqual(['HOME', 'LANG', 'PATH', 'SKILL_OPTIMIZER_TRIAL']);
  });

  // Documents why bubblewrap is preferred; also proves the probes in bubblewrap.test.ts can see a
  // leak when there is one.
  describe.runIf(process.platform === 'linux')('is weaker than bubblewrap', () => {
    it('a same-user /proc/<pid>/environ and files outside the trial stay readable', async () => {
      const result = await sandbox.runShell(
        `cat /proc/${secret.holderPid}/environ; cat ${secret.files.join(' ')}`,
        { cwd: trial, timeoutMs: 20_000 },
      );
      expect(result.stdout).toContain(secret.value);
    });

    it('the network stays reachable', async () => {
      const result = await withLoopbackServer((port) =>
        sandbox.run([sandbox.nodePath, '-e', connectScript(port)], {
          cwd: trial,
          timeoutMs: 20_000,
        }),
      );
      expect(result.stdout).toContain('connected');
    });
  });

  describeLimits('process', () => sandbox);
});
