import { randomUUID } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { RunLockedError } from './errors.js';

const LockFile = z.strictObject({
  pid: z.number().int().positive(),
  host: z.string(),
  startedAt: z.string(),
  token: z.string(),
});
type LockFile = z.infer<typeof LockFile>;

export interface RunLock {
  readonly path: string;
  /** The dead holder this lock was taken over from, if any. */
  readonly tookOverFrom: { pid: number; startedAt: string } | null;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

export interface LockOptions {
  slug: string;
  onRecover?: (message: string) => void;
  now?: () => Date;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function readLock(path: string): Promise<LockFile | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return 'missing';
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return 'unreadable';
    throw error;
  }
  const parsed = LockFile.safeParse(json);
  return parsed.success ? parsed.data : 'unreadable';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Creates the lock file with its full content in one step (hard link), failing if it exists. */
async function tryCreate(path: string, content: LockFile): Promise<boolean> {
  const temp = `${path}.${content.token}.tmp`;
  await writeFile(temp, `${JSON.stringify(content)}\n`, { flag: 'wx' });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp);
  }
}

/**
 * Takes the exclusive lock of one run. A lock held by a live process (or by another machine)
 * refuses with RunLockedError; a lock whose process is gone is taken over and reported.
 */
export async function acquireRunLock(path: string, opts: LockOptions): Promise<RunLock> {
  const mine: LockFile = {
    pid: process.pid,
    host: hostname(),
    startedAt: (opts.now ?? (() => new Date()))().toISOString(),
    token: randomUUID(),
  };
  let tookOverFrom: RunLock['tookOverFrom'] = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryCreate(path, mine)) {
      return {
        path,
        tookOverFrom,
        release: async () => {
          const current = await readLock(path);
          if (typeof current === 'object' && current.token === mine.token) await unlink(path);
        },
      };
    }
    const holder = await readLock(path);
    if (holder === 'missing') continue;
    if (holder === 'unreadable') {
      throw new RunLockedError(
        `a run of '${opts.slug}' may be in progress: its lock file ${path} cannot be read; if no such run is going on, delete that file and retry`,
      );
    }
    if (holder.host !== mine.host || isAlive(holder.pid)) {
      const where = holder.host === mine.host ? '' : ` on ${holder.host}`;
      throw new RunLockedError(
        `a run of '${opts.slug}' is already in progress (pid ${holder.pid}${where} since ${holder.startedAt}); if that process is gone, delete ${path} and retry`,
      );
    }
    const again = await readLock(path);
    if (typeof again === 'object' && again.token === holder.token) {
      await unlink(path).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
      tookOverFrom = { pid: holder.pid, startedAt: holder.startedAt };
      opts.onRecover?.(
        `took over the lock of run '${opts.slug}' from pid ${holder.pid} (started ${holder.startedAt}), which is no longer running`,
      );
    }
  }
  throw new RunLockedError(
    `could not take the lock ${path} of run '${opts.slug}': other processes keep creating it; retry once they are done`,
  );
}
