import { readdir, readFile, readlink } from 'node:fs/promises';

/** Pids of live `sleep` processes whose working directory is `dir`. */
export async function sleepersOf(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [comm, cwd, stat] = await Promise.all([
        readFile(`/proc/${name}/comm`, 'utf8'),
        readlink(`/proc/${name}/cwd`),
        readFile(`/proc/${name}/stat`, 'utf8'),
      ]);
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      if (comm.trim() === 'sleep' && cwd === dir && !zombie) found.push(Number(name));
    } catch (error) {
      // The process ended while being read, or is not ours to inspect.
      const code = (error as NodeJS.ErrnoException).code;
      if (!['ENOENT', 'ESRCH', 'EACCES', 'EPERM'].includes(code ?? '')) throw error;
    }
  }
  return found;
}
