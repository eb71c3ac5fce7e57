import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The environment variable every sandboxed command starts with, holding a token unique to the
 * run: a descendant that left the process group (`setsid`) and was re-parented away from the
 * command still carries it in /proc/<pid>/environ, so it can be found and killed at the end.
 */
export const TRIAL_MARKER_VAR = 'SKILL_OPTIMIZER_TRIAL';

export interface WatchLimits {
  /** The trial folder whose total size is capped. */
  dir: string;
  /** Processes (the command included) alive at once before the whole run is killed. */
  maxProcesses: number;
  /** Total bytes of the trial folder before the whole run is killed. */
  maxDirBytes: number;
  /** How often the process table and the folder are read; default 200 ms. */
  intervalMs?: number;
  /** Ticks are skipped while this says false (a resident process between jobs); default always. */
  active?: () => boolean;
}

export interface TrialWatch {
  /** Why the run was killed for a limit, or null. */
  readonly breach: string | null;
  /** Stops watching and SIGKILLs every process of the run still alive, marker holders included. */
  stop(): Promise<void>;
}

interface ProcEntry {
  pid: number;
  ppid: number;
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM';
}

async function readProcTable(): Promise<ProcEntry[]> {
  const names = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const entries = await Promise.all(
    names.map(async (name): Promise<ProcEntry | null> => {
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        // "pid (comm) state ppid …": comm may hold spaces and parentheses; the last ')' ends it.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // A zombie is dead already: it holds no resources and cannot be killed again.
        if (fields[0] === 'Z') return null;
        return { pid: Number(name), ppid: Number(fields[1]) };
      } catch (error) {
        if (isGone(error)) return null;
        throw error;
      }
    }),
  );
  return entries.filter((entry): entry is ProcEntry => entry !== null);
}

/** The root and every process below it, plus the `known` ones still alive (re-parented or not). */
function descendants(table: ProcEntry[], root: number, known: Set<number>): Set<number> {
  const alive = new Set(table.map((entry) => entry.pid));
  const found = new Set([...known].filter((pid) => alive.has(pid)));
  if (alive.has(root)) found.add(root);
  let grew = true;
  while (grew) {
    grew = false;
    for (const entry of table) {
      if (!found.has(entry.pid) && found.has(entry.ppid)) {
        found.add(entry.pid);
        grew = true;
      }
    }
  }
  return found;
}

let childrenFiles: Promise<boolean> | undefined;
/** Whether this kernel lists each thread's children in /proc/<pid>/task/<tid>/children. */
function hasChildrenFiles(): Promise<boolean> {
  childrenFiles ??= readFile(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  return childrenFiles;
}

/** Whether `pid` is alive and not a zombie. */
async function isLive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch (error) {
    if (isGone(error)) return false;
    throw error;
  }
}

/**
 * The same set as `descendants` over the whole table, read from the run's own processes only
 * (their threads' children files): a tick then costs a few reads, not one per process on the
 * machine, which matters with many watched runs on a busy host.
 */
async function subtree(root: number, known: Set<number>): Promise<Set<number>> {
  const found = new Set<number>();
  let frontier = [root, ...known];
  while (frontier.length > 0) {
    const next: number[] = [];
    await Promise.all(
      frontier.map(async (pid) => {
        if (found.has(pid) || !(await isLive(pid))) return;
        found.add(pid);
        let tids: string[];
        try {
          tids = await readdir(`/proc/${pid}/task`);
        } catch (error) {
          if (isGone(error)) return;
          throw error;
        }
        for (const tid of tids) {
          try {
            const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8');
            for (const child of text.split(' ')) if (child.trim() !== '') next.push(Number(child));
          } catch (error) {
            if (!isGone(error)) throw error;
          }
        }
      }),
    );
    frontier = next.filter((pid) => !found.has(pid));
  }
  return found;
}

async function holdersOf(marker: string, table: ProcEntry[]): Promise<number[]> {
  const needle = `${TRIAL_MARKER_VAR}=${marker}\0`;
  const holders = await Promise.all(
    table.map(async ({ pid }) => {
      if (pid === process.pid) return null;
      try {
        return (await readFile(`/proc/${pid}/environ`, 'latin1')).includes(needle) ? pid : null;
      } catch (error) {
        if (isGone(error)) return null;
        throw error;
      }
    }),
  );
  return holders.filter((pid): pid is number => pid !== null);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Total size of the regular files under `dir`, counting stops once it passes `stopAt`. */
export async function folderBytes(dir: string, stopAt = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0 && total <= stopAt) {
    const current = pending.pop() as string;
    let names: string[];
    try {
      names = await readdir(current);
    } catch (error) {
      if (isGone(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw error;
    }
    for (const name of names) {
      const path = join(current, name);
      try {
        const info = await lstat(path);
        if (info.isDirectory()) pending.push(path);
        else if (info.isFile()) total += info.blocks * 512;
      } catch (error) {
        if (!isGone(error)) throw error;
      }
    }
  }
  return total;
}

/**
 * Watches one sandboxed run from the outside: every interval it reads the process table and the
 * trial folder, and on a breach (too many processes, folder too large) kills every process of the
 * run and calls `onBreach` once. Linux only (reads /proc); elsewhere only the folder is watched.
 */
export function watchTrial(
  rootPid: number,
  marker: string,
  limits: WatchLimits,
  onBreach: (reason: string) => void,
): TrialWatch {
  const hasProc = process.platform === 'linux';
  let known = new Set<number>([rootPid]);
  let breach: string | null = null;
  let stopped = false;
  let ticking: Promise<void> = Promise.resolve();
  let failure: unknown;

  const killKnown = () => {
    for (const pid of known) kill(pid);
  };

  // Kill until nothing of the run is left: a process can fork while its siblings die.
  const killAll = async () => {
    for (let round = 0; round < 5; round++) {
      const table = await readProcTable();
      known = descendants(table, rootPid, known);
      const victims = new Set([...known, ...(await holdersOf(marker, table))]);
      victims.delete(process.pid);
      if (victims.size === 0) return;
      for (const pid of victims) kill(pid);
      known = victims;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const tick = async () => {
    if (hasProc) {
      known = (await hasChildrenFiles())
        ? await subtree(rootPid, known)
        : descendants(await readProcTable(), rootPid, known);
      if (known.size > limits.maxProcesses) {
        breach = `more than ${limits.maxProcesses} processes at once`;
      }
    }
    if (breach === null) {
      const bytes = await folderBytes(limits.dir, limits.maxDirBytes);
      if (bytes > limits.maxDirBytes) {
        breach = `the trial folder grew past ${Math.round(limits.maxDirBytes / 1024 / 1024)} MB`;
      }
    }
    if (breach !== null && !stopped) {
      killKnown();
      onBreach(breach);
    }
  };

  const timer = setInterval(() => {
    ticking = ticking
      .then(() => (stopped || breach !== null || limits.active?.() === false ? undefined : tick()))
      .catch((error: unknown) => {
        failure ??= error;
      });
  }, limits.intervalMs ?? 200);

  return {
    get breach() {
      return breach;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await ticking;
      if (hasProc) await killAll();
      if (failure !== undefined) throw failure;
    },
  };
}
