import { mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runGrader } from '../../../src/bench/grader.js';
import { createSandbox, type Sandbox } from '../../../src/bench/sandbox/index.js';
import { describeLimits } from './limits.shared.js';
import { connectScript, withLoopbackServer } from './loopback.js';
import { holdParentSecret, type ParentSecret } from './parent-secret.js';

const snoopGrader = fileURLToPath(new URL('../../fixtures/graders/snoop.mjs', import.meta.url));

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

// CI installs bubblewrap: on Linux these tests fail loudly when it cannot start.
describe.runIf(process.platform === 'linux')('bubblewrap sandbox', () => {
  let sandbox: Sandbox;
  let secret: ParentSecret;
  let trial: string;

  beforeAll(async () => {
    secret = await holdParentSecret();
    sandbox = await createSandbox('bubblewrap', { secretInReach: false });
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

  const sh = (command: string) => sandbox.runShell(command, { cwd: trial, timeoutMs: 20_000 });

  it('reports its level, and auto mode picks it', async () => {
    expect(sandbox.level).toBe('bubblewrap');
    expect(sandbox.fallbackReason).toBeNull();
    expect((await createSandbox('auto', { secretInReach: false })).level).toBe('bubblewrap');
  });

  describe('the parent secret is unreadable by any path', () => {
    it('not in env', async () => {
      const result = await sh('env');
      expect(result.stdout).toContain(`HOME=${trial}`);
      expect(result.stdout).not.toContain(secret.value);
      expect(result.stdout).not.toContain('SO_TEST_SECRET');
    });

    it('not in /proc/*/environ of any visible process, bwrap itself (PID 1) included', async () => {
      const result = await sh('cat /proc/*/environ | tr "\\0" "\\n"; echo; cat /proc/1/environ');
      expect(result.stdout).toContain('PATH=');
      expect(result.stdout).not.toContain(secret.value);
    });

    it('host processes are not visible at all', async () => {
      const result = await sh('for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done');
      expect(result.stdout).toContain('cmdline');
      expect(result.stdout).not.toContain('setInterval');
      expect(result.stdout).not.toContain('vitest');
    });

    it('not through /proc/<pid>/environ of the holder, this process or its parent', async () => {
      const pids = [secret.holderPid, process.pid, process.ppid];
      const result = await sh(pids.map((pid) => `cat /proc/${pid}/environ`).join('; '));
      expect(result.stdout).not.toContain(secret.value);
    });

    it('not as a file by absolute path, ../ path or symlink', async () => {
      for (const file of secret.files) {
        const rel = relative(trial, file);
        expect(rel.startsWith('..')).toBe(true);
        const result = await sh(
          `cat ${file}; cat ${rel}; ln -s ${file} link-${rel.length} && cat link-${rel.length}`,
        );
        expect(result.exitCode).not.toBe(0);
        expect(result.stdout).not.toContain(secret.value);
        expect(result.stderr).toContain('No such file');
      }
    });

    it('host files outside the mounted system dirs do not exist', async () => {
      const result = await sh(`cat /etc/shadow; ls ${process.cwd()}; ls /root /home`);
      expect(result.stdout).toBe('');
      expect(result.stderr.match(/No such file/g)).toHaveLength(4);
    });

    it('not by a grader', async () => {
      const outcome = await runGrader(sandbox, {
        graderPath: snoopGrader,
        workspaceDir: trial,
        transcript: [],
        finalMessage: JSON.stringify({
          secretFiles: secret.files,
          pids: [secret.holderPid, process.pid, process.ppid],
        }),
      });
      if (!outcome.ok) throw new Error(outcome.error);
      const seen = outcome.result.reasons.join('\n');
      expect(seen).toContain('/proc/1/environ: PATH=');
      for (const file of secret.files) expect(seen).toContain(`${file}: ENOENT`);
      expect(seen).not.toContain(secret.value);
    });
  });

  describe('no network', () => {
    it('cannot reach a loopback server of the parent', async () => {
      const result = await withLoopbackServer((port) =>
        sandbox.run([sandbox.nodePath, '-e', connectScript(port)], {
          cwd: trial,
          timeoutMs: 20_000,
        }),
      );
      expect(result.stdout).toContain('error ECONNREFUSED');
      expect(result.stdout).not.toContain('connected');
    });

    it('has only the loopback interface', async () => {
      const result = await sh('cat /proc/net/dev; ls /sys/class/net 2>/dev/null');
      const interfaces = result.stdout
        .split('\n')
        .filter((line) => line.includes(':'))
        .map((line) => line.split(':')[0]?.trim());
      expect(interfaces).toEqual(['lo']);
    });
  });

  describe('the trial dir is the only writable place', () => {
    it('writes inside land in the trial dir', async () => {
      await sh('echo inside > inside.txt');
      expect(await readFile(join(trial, 'inside.txt'), 'utf8')).toBe('inside\n');
    });

    it('writes outside reach nothing on the host', async () => {
      const marker = `so-pwned-${process.pid}`;
      const targets = [join(process.cwd(), marker), join(tmpdir(), marker), `/usr/${marker}`];
      const result = await sh(targets.map((target) => `echo x > ${target}`).join('; '));
      expect(result.exitCode).not.toBe(0);
      for (const target of targets) expect(await exists(target)).toBe(false);
    });

    it("a grader's own directory is read-only, its workspace writable", async () => {
      const graderDir = await mkdtemp(join(tmpdir(), 'so-grader-dir-'));
      try {
        const graderPath = join(graderDir, 'grader.mjs');
        await writeFile(
          graderPath,
          [
            "import { writeFile } from 'node:fs/promises';",
            'const attempt = (path) => writeFile(path, "x").then(() => "wrote", (e) => e.code);',
            'export default async ({ workspaceDir }) => ({',
            '  pass: true,',
            `  reasons: [await attempt(${JSON.stringify(join(graderDir, 'x'))}), await attempt(workspaceDir + '/x')],`,
            '});',
          ].join('\n'),
        );
        const input = { graderPath, workspaceDir: trial, transcript: [], finalMessage: '' };
        const outcome = await runGrader(sandbox, input);
        expect(outcome).toEqual({ ok: true, result: { pass: true, reasons: ['EROFS', 'wrote'] } });
      } finally {
        await rm(graderDir, { recursive: true, force: true });
      }
    });

    it('system dirs are read-only', async () => {
      const result = await sh(`touch /usr/bin/so-pwned; echo rc=$?`);
      expect(result.stdout).toContain('rc=1');
      expect(result.stderr).toMatch(/Read-only file system/);
    });
  });

  describeLimits('bubblewrap', () => sandbox);
});
