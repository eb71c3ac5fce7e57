import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A secret the parent holds three ways: in its own process.env (inherited by any child spawned
 * with the default env), in the exec environment of a running same-user process (readable via
 * /proc/<pid>/environ), and in files outside the trial dir: one under the temp dir (a private
 * tmpfs in bubblewrap) and one under the home dir (simply not mounted).
 */
export interface ParentSecret {
  value: string;
  files: string[];
  holderPid: number;
  cleanup(): Promise<void>;
}

export async function holdParentSecret(): Promise<ParentSecret> {
  const value = `so-secret-${randomUUID()}`;
  process.env.SO_TEST_SECRET = value;
  const dirs = [
    await mkdtemp(join(tmpdir(), 'so-secret-')),
    await mkdtemp(join(homedir(), '.so-secret-')),
  ];
  const files = dirs.map((dir) => join(dir, 'secret.txt'));
  for (const file of files) await writeFile(file, value);
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], {
    env: { ...process.env, SO_TEST_SECRET: value },
    stdio: 'ignore',
  });
  await once(holder, 'spawn');
  const holderPid = holder.pid;
  if (holderPid === undefined) throw new Error('secret holder did not start');
  if (process.platform === 'linux') {
    // The probes must be able to detect a leak: the holder's environ really holds the secret.
    const environ = await readFile(`/proc/${holderPid}/environ`, 'utf8');
    if (!environ.includes(value)) throw new Error('secret holder environ does not show the secret');
  }
  return {
    value,
    files,
    holderPid,
    async cleanup() {
      holder.kill('SIGKILL');
      delete process.env.SO_TEST_SECRET;
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    },
  };
}
