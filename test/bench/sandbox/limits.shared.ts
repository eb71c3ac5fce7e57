import { mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../../src/bench/sandbox/index.js';
import { sleepersOf } from './sleepers.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/** Behaviour every isolation level must have: limits, caps, cleanup, plumbing. */
export function describeLimits(name: string, getSandbox: () => Sandbox): void {
  describe(`${name}: limits and plumbing`, () => {
    let trial: string;
    beforeEach(async () => {
      trial = await realpath(await mkdtemp(join(tmpdir(), 'so-trial-')));
    });
    afterEach(async () => {
      await rm(trial, { recursive: true, force: true });
    });

    it('runs in the trial dir with HOME there, passes stdin, exit codes and extra env', async () => {
      const sandbox = getSandbox();
      const result = await sandbox.runShell('pwd; echo "$HOME"; echo "$EXTRA"; cat; exit 7', {
        cwd: trial,
        timeoutMs: 20_000,
        env: { EXTRA: 'vetted' },
        stdin: 'from-stdin',
      });
      expect(result).toMatchObject({ exitCode: 7, timedOut: false, truncated: false });
      expect(result.stdout).toBe(`${trial}\n${trial}\nvetted\nfrom-stdin`);
    });

    it('kills `sleep 100` at the timeout and reports it', async () => {
      const result = await getSandbox().runShell('sleep 100', { cwd: trial, timeoutMs: 500 });
      expect(result.timedOut).toBe(true);
      expect(result.signal).toBe('SIGKILL');
      expect(result.exitCode).toBeNull();
    });

    it('kills the command when the caller aborts', async () => {
      const controller = new AbortController();
      const running = getSandbox().runShell('echo started; sleep 100', {
        cwd: trial,
        timeoutMs: 30_000,
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 300);
      const result = await running;
      expect(result).toMatchObject({ timedOut: false, signal: 'SIGKILL', exitCode: null });
    });

    it('kills an infinite loop at the timeout', async () => {
      const sandbox = getSandbox();
      const result = await sandbox.run([sandbox.nodePath, '-e', 'for (;;) {}'], {
        cwd: trial,
        timeoutMs: 1000,
      });
      expect(result.timedOut).toBe(true);
    });

    it('stops a memory hog at the memory limit, and the same program runs with a larger one', async () => {
      const sandbox = getSandbox();
      const hog = [
        sandbox.nodePath,
        '-e',
        'const b = Buffer.alloc(768 * 1024 * 1024, 1); console.log("allocated", b.length)',
      ];
      const limited = await sandbox.run(hog, { cwd: trial, timeoutMs: 30_000, memoryMb: 256 });
      expect(limited.timedOut).toBe(false);
      expect(limited.exitCode).not.toBe(0);
      expect(limited.stdout).not.toContain('allocated');
      expect(limited.stderr).toMatch(/allocation failed|out of memory/i);

      const roomy = await sandbox.run(hog, { cwd: trial, timeoutMs: 30_000, memoryMb: 4096 });
      expect(roomy.stdout).toContain('allocated');
    });

    it('truncates stdout and stderr over the cap and flags it', async () => {
      const sandbox = getSandbox();
      const result = await sandbox.runShell(
        "head -c 100000 /dev/zero | tr '\\0' a; head -c 50000 /dev/zero | tr '\\0' b >&2",
        { cwd: trial, timeoutMs: 20_000, maxOutputBytes: 1000 },
      );
      expect(result.truncated).toBe(true);
      expect(result.stdout.startsWith('a'.repeat(1000))).toBe(true);
      expect(result.stdout).not.toContain('a'.repeat(1001));
      expect(result.stdout).toContain('[output truncated: more than 1000 bytes]');
      expect(result.stderr.startsWith('b'.repeat(1000))).toBe(true);
      expect(result.stderr).not.toContain('b'.repeat(1001));
    });

    it('does not flag output under the cap', async () => {
      const result = await getSandbox().runShell('echo short', {
        cwd: trial,
        timeoutMs: 20_000,
        maxOutputBytes: 1000,
      });
      expect(result).toMatchObject({ stdout: 'short\n', truncated: false });
    });

    it('a background child does not outlive the timeout', async () => {
      const beat = join(trial, 'beat');
      const result = await getSandbox().runShell(
        '(while :; do echo x >> beat; sleep 0.05; done) & sleep 100',
        { cwd: trial, timeoutMs: 1500 },
      );
      expect(result.timedOut).toBe(true);
      const before = await readFile(beat, 'utf8');
      expect(before.length).toBeGreaterThan(0);
      await sleep(500);
      expect(await readFile(beat, 'utf8')).toBe(before);
    });

    it('a background child does not outlive a command that exits', async () => {
      const result = await getSandbox().runShell('(sleep 0.3; echo late > late.txt) & echo quick', {
        cwd: trial,
        timeoutMs: 20_000,
      });
      expect(result).toMatchObject({ exitCode: 0, stdout: 'quick\n', timedOut: false });
      await sleep(800);
      expect(await exists(join(trial, 'late.txt'))).toBe(false);
    });

    // Counting and finding processes reads /proc.
    const onLinux = it.runIf(process.platform === 'linux');

    onLinux(
      'kills a fork bomb of background processes at the process cap, children included',
      async () => {
        const started = performance.now();
        const result = await getSandbox().runShell(
          'i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); done; wait',
          { cwd: trial, timeoutMs: 20_000, maxProcesses: 40 },
        );
        expect(result.timedOut).toBe(false);
        expect(performance.now() - started).toBeLessThan(10_000);
        if (result.limit !== null) {
          expect(result.limit).toBe('more than 40 processes at once');
          expect(result.stderr).toContain('[sandbox: killed: more than 40 processes at once]');
        } else {
          // Under RLIMIT_NPROC (bubblewrap as a non-root user) the shell cannot fork at all.
          expect(result.exitCode).not.toBe(0);
          expect(result.stderr).toMatch(/fork|Resource temporarily unavailable/i);
        }
        expect(await sleepersOf(trial)).toEqual([]);
      },
    );

    it('kills a disk fill past the folder cap and no file grows past it', async () => {
      const result = await getSandbox().runShell(
        'for i in 1 2 3 4 5 6; do head -c 3000000 /dev/zero > f$i; done; sleep 30',
        { cwd: trial, timeoutMs: 20_000, maxDiskMb: 4 },
      );
      expect(result.timedOut).toBe(false);
      expect(result.limit).toBe('the trial folder grew past 4 MB');
      const big = await getSandbox().runShell('head -c 6000000 /dev/zero > one; echo rc=$?', {
        cwd: trial,
        timeoutMs: 20_000,
        maxDiskMb: 4,
      });
      expect((await stat(join(trial, 'one'))).size).toBeLessThanOrEqual(4 * 1024 * 1024);
      expect(big.stdout).not.toContain('rc=0');
    });

    onLinux('a `setsid` child does not outlive the command', async () => {
      const result = await getSandbox().runShell(
        [
          'setsid sh -c "echo up > started; sleep 0.5; echo escaped > escaped.txt; sleep 30" > /dev/null 2>&1 < /dev/null &',
          'while [ ! -s started ]; do sleep 0.05; done; echo quick',
        ].join(' '),
        { cwd: trial, timeoutMs: 20_000 },
      );
      expect(result).toMatchObject({ exitCode: 0, stdout: 'quick\n', timedOut: false });
      await sleep(1200);
      expect(await exists(join(trial, 'escaped.txt'))).toBe(false);
      expect(await sleepersOf(trial)).toEqual([]);
    });

    it('refuses a cwd that is not an existing absolute dir', async () => {
      const sandbox = getSandbox();
      await expect(sandbox.runShell('true', { cwd: 'relative', timeoutMs: 1000 })).rejects.toThrow(
        /absolute/,
      );
      await expect(
        sandbox.runShell('true', { cwd: join(trial, 'missing'), timeoutMs: 1000 }),
      ).rejects.toThrow(/ENOENT/);
    });
  });
}
