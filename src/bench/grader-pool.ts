import { randomUUID } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, readdir, realpath, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_GRADER_TIMEOUT_MS,
  type GradeInput,
  type GradeOutcome,
  gradeFailure,
  judgeOutcomeLine,
} from './grader.js';
import { GRADER_POOL_HOST_SOURCE } from './grader-pool-host.js';
import type { ResidentProcess, Sandbox } from './sandbox/index.js';
import { DEFAULT_MEMORY_MB } from './sandbox/types.js';

/**
 * Grading many trials without starting a sandbox and a node per grade (docs/security.md, "Grader
 * hosts"): up to `size` long-lived hosts, each a node program in the sandbox grading one trial at
 * a time in a fresh worker thread. For a grade the trial's workspace is moved into the host's
 * slot (the only writable folder it has) and moved back afterwards, so a host never sees two
 * workspaces at once. A host that timed out, crashed, broke a limit, returned no well-formed
 * answer or started another program is killed with everything it started; the next grade gets a
 * fresh one.
 */
export interface GraderPool {
  /** Same contract as `runGrader`: every failure of the grader is `{ ok: false, error }`. */
  grade(input: GradeInput): Promise<GradeOutcome>;
  /** Hosts started so far (the first included): a figure for benchmarks and tests. */
  readonly hostsStarted: number;
  /** Kills every host and removes their slots; grades in flight fail. */
  close(): Promise<void>;
}

export interface GraderPoolOptions {
  /** Every grader the pool may run: their folders are mounted read-only in each host. */
  graderPaths: string[];
  /** A folder holding `node_modules/` with the suite's grader dependencies (read-only). */
  dependenciesDir: string | null;
  /** Hosts at once, each grading one trial at a time. */
  size: number;
  /** Per grade (default DEFAULT_GRADER_TIMEOUT_MS); past it the host is killed. */
  timeoutMs?: number;
  /** Grades one host serves before it is replaced (default 200): bounds its CPU rlimit. */
  maxGradesPerHost?: number;
  /** Size cap of a host's slot (the workspace being graded), in MB; the sandbox default when unset. */
  maxDiskMb?: number;
  /** Where host slots are made; default the OS temp folder (same file system as the trials). */
  slotRoot?: string;
  log?: (line: string) => void;
}

const MAX_OUTPUT_BYTES = 64 * 1024;
const HOST_FRAME_BYTES = 8 * 1024 * 1024;
const DETAIL_CHARS = 800;
const WORKSPACE = 'workspace';
/** How long after an answer a host starts the next grade's worker. */
const WARM_DELAY_MS = 50;

const replySchema = z.object({
  outcome: z.string().nullable(),
  failure: z.string().nullable(),
  exitCode: z.number(),
  output: z.string(),
  tainted: z.boolean(),
});
type HostReply = z.infer<typeof replySchema>;

/** What ended one exchange with a host. */
type Exchange =
  | { kind: 'reply'; reply: HostReply }
  | { kind: 'unreadable'; text: string }
  | { kind: 'exited'; code: number | null; signal: string | null }
  | { kind: 'timedOut' };

interface Host {
  resident: ResidentProcess;
  slot: string;
  workspace: string;
  graded: number;
  /** Resolves the exchange in flight when the host answers or exits. */
  settle: ((exchange: Exchange) => void) | null;
  marker: string;
  /** What the host wrote beside its answers during this exchange. */
  noise: string;
  exit: { code: number | null; signal: string | null } | null;
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > DETAIL_CHARS ? `…${trimmed.slice(-DETAIL_CHARS)}` : trimmed;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Moves a folder; across file systems it is copied (symlinks as they are) and removed. */
async function moveDir(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await cp(from, to, { recursive: true, verbatimSymlinks: true });
    await rm(from, { recursive: true, force: true });
  }
}

function isInside(dir: string, path: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

export async function createGraderPool(
  sandbox: Sandbox,
  opts: GraderPoolOptions,
): Promise<GraderPool> {
  if (!Number.isInteger(opts.size) || opts.size < 1) {
    throw new Error(`a grader pool needs a size of at least 1, got ${opts.size}`);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GRADER_TIMEOUT_MS;
  const maxGrades = opts.maxGradesPerHost ?? 200;
  const graderDirs = [...new Set(await Promise.all(opts.graderPaths.map(realDirOf)))];
  const dependenciesDir =
    opts.dependenciesDir === null ? null : await realpath(opts.dependenciesDir);
  const slotRoot = await realpath(opts.slotRoot ?? tmpdir());
  const mounts = [...graderDirs, ...(dependenciesDir === null ? [] : [dependenciesDir])];
  const configFor = (slot: string) =>
    JSON.stringify({
      wipeTmp: sandbox.level === 'bubblewrap',
      keep: [slot, ...mounts],
      dependenciesDir,
      workerHeapMb: Math.floor(DEFAULT_MEMORY_MB / 2),
      maxOutputBytes: MAX_OUTPUT_BYTES,
      warmDelayMs: WARM_DELAY_MS,
    });

  const idle: Host[] = [];
  const live = new Set<Host>();
  const waiting: Array<() => void> = [];
  let starting = 0;
  let started = 0;
  let closed = false;

  async function startHost(): Promise<Host> {
    const slot = await mkdtemp(join(slotRoot, 'skill-optimizer-grader-'));
    const workspace = join(slot, WORKSPACE);
    const resident = await sandbox.start(
      [sandbox.nodePath, '--input-type=module', '--eval', GRADER_POOL_HOST_SOURCE, configFor(slot)],
      {
        cwd: slot,
        readOnlyBinds: mounts,
        ...(opts.maxDiskMb === undefined ? {} : { maxDiskMb: opts.maxDiskMb }),
        env: {
          HOME: workspace,
          ...(dependenciesDir === null ? {} : { NODE_PATH: join(dependenciesDir, 'node_modules') }),
        },
        cpuSeconds: maxGrades * (Math.ceil(timeoutMs / 1000) + 1),
        onCleanupError: (error) =>
          opts.log?.(`grader host cleanup failed: ${(error as Error).message}`),
      },
    );
    started++;
    const host: Host = {
      resident,
      slot,
      workspace,
      graded: 0,
      settle: null,
      marker: '',
      noise: '',
      exit: null,
    };
    listen(host);
    return host;
  }

  function listen(host: Host): void {
    const { child } = host.resident;
    let pending = '';
    const note = (text: string) => {
      if (host.settle !== null && host.noise.length < MAX_OUTPUT_BYTES) host.noise += text;
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (host.marker !== '' && line.startsWith(host.marker)) answer(host, line);
        else note(`${line}\n`);
        newline = pending.indexOf('\n');
      }
      // A flood without newlines cannot hold the pool's memory: past the cap it is noise.
      if (pending.length > HOST_FRAME_BYTES) {
        note(pending.slice(0, MAX_OUTPUT_BYTES));
        pending = '';
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', note);
    // A host that died cannot take its request (EPIPE); its exit settles the exchange.
    child.stdin.on('error', (error) => note(`[grader host stdin: ${error.message}]\n`));
    child.on('exit', (code, signal) => {
      host.exit = { code, signal };
      host.settle?.({ kind: 'exited', code, signal });
    });
  }

  function answer(host: Host, line: string): void {
    const text = line.slice(host.marker.length);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      host.settle?.({ kind: 'unreadable', text });
      return;
    }
    const reply = replySchema.safeParse(parsed);
    host.settle?.(
      reply.success ? { kind: 'reply', reply: reply.data } : { kind: 'unreadable', text },
    );
  }

  async function acquire(): Promise<Host> {
    for (;;) {
      if (closed) throw new Error('the grader pool is closed');
      const host = idle.pop();
      if (host !== undefined && host.exit === null) return host;
      if (host !== undefined) {
        // It died between grades (nothing of a grade was in it): replace it, fail nothing.
        await retire(host);
        await rm(host.slot, { recursive: true, force: true });
        continue;
      }
      if (live.size + starting < opts.size) {
        starting++;
        try {
          const fresh = await startHost();
          live.add(fresh);
          return fresh;
        } finally {
          starting--;
        }
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }

  /** Kills a host and all it started; its slot stays until no workspace is in it. */
  async function retire(host: Host): Promise<void> {
    live.delete(host);
    await host.resident.kill();
  }

  function release(host: Host | null): void {
    if (host !== null && !closed) idle.push(host);
    waiting.shift()?.();
  }

  /** One exchange: the request out, then the answer, the host's exit or the timeout. */
  function exchange(host: Host, request: object): Promise<Exchange> {
    host.marker = `@@skill-optimizer-grader-result:${randomUUID()}@@`;
    host.noise = '';
    return new Promise<Exchange>((resolve) => {
      const timer = setTimeout(() => done({ kind: 'timedOut' }), timeoutMs);
      const done = (result: Exchange) => {
        clearTimeout(timer);
        host.settle = null;
        host.marker = '';
        resolve(result);
      };
      host.settle = done;
      if (host.exit !== null) {
        done({ kind: 'exited', ...host.exit });
        return;
      }
      host.resident.setWatched(true);
      // A failed write means the host died: its exit (or the timeout) settles the exchange.
      host.resident.child.stdin.write(`${JSON.stringify({ ...request, marker: host.marker })}\n`);
    });
  }

  async function gradeOn(host: Host, input: GradeInput, graderPath: string): Promise<GradeOutcome> {
    const fail = (error: string) => gradeFailure(input.graderPath, error);
    const source = await realpath(input.workspaceDir);
    await moveDir(source, host.workspace);
    let result: Exchange;
    let noise = '';
    try {
      result = await exchange(host, {
        graderPath,
        workspaceDir: host.workspace,
        transcript: input.transcript,
        finalMessage: input.finalMessage,
      });
      noise = host.noise;
    } finally {
      host.resident.setWatched(false);
    }
    const breach = host.resident.breach;
    const reusable =
      result.kind === 'reply' &&
      result.reply.outcome !== null &&
      !result.reply.tainted &&
      breach === null &&
      host.exit === null &&
      ++host.graded < maxGrades;
    // Nothing may still write into the workspace once it is back where the trial keeps it.
    if (!reusable) await retire(host);
    if (await exists(host.workspace)) await moveDir(host.workspace, source);
    if (reusable) await wipeSlot(host.slot);
    else await rm(host.slot, { recursive: true, force: true });
    release(reusable ? host : null);

    const limit = breach === null ? '' : `; sandbox: killed: ${breach}`;
    if (result.kind === 'timedOut') return fail(`timed out after ${timeoutMs / 1000}s`);
    if (result.kind === 'unreadable')
      return fail(`printed an unreadable result: ${tail(result.text)}`);
    if (result.kind === 'exited') {
      const how =
        result.signal === null ? `with code ${result.code}` : `on signal ${result.signal}`;
      const said = tail(noise) === '' ? '' : `; stderr: ${tail(noise)}`;
      return fail(`exited ${how} without returning a result${said}${limit}`);
    }
    const { reply } = result;
    if (reply.outcome !== null) return judgeOutcomeLine(input.graderPath, reply.outcome);
    const printed = tail([reply.failure ?? '', reply.output, noise].join('\n'));
    const said = printed === '' ? '' : `; stderr: ${printed}`;
    if (reply.failure === null && reply.exitCode === 0) {
      return fail(`finished without returning a result${said}${limit}`);
    }
    return fail(`exited with code ${reply.exitCode} without returning a result${said}${limit}`);
  }

  return {
    get hostsStarted() {
      return started;
    },
    async grade(input) {
      let graderPath: string;
      try {
        graderPath = await realpath(input.graderPath);
        if (!(await lstat(graderPath)).isFile()) return gradeFailure(input.graderPath, 'not found');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        return gradeFailure(input.graderPath, 'not found');
      }
      if (!graderDirs.some((dir) => isInside(dir, graderPath))) {
        throw new Error(`grader ${input.graderPath} is not one of the graders this pool mounts`);
      }
      const host = await acquire();
      try {
        return await gradeOn(host, input, graderPath);
      } catch (error) {
        if (live.has(host)) await retire(host);
        release(null);
        throw error;
      }
    },
    async close() {
      closed = true;
      const resting = idle.splice(0);
      // A host busy with a grade is killed too; that grade moves its workspace back itself.
      await Promise.all([...live].map(retire));
      await Promise.all(resting.map((host) => rm(host.slot, { recursive: true, force: true })));
      for (const wake of waiting.splice(0)) wake();
    },
  };
}

async function realDirOf(graderPath: string): Promise<string> {
  return dirname(await realpath(graderPath));
}

/** Leaves the slot empty between grades: nothing a grade wrote beside its workspace survives it. */
async function wipeSlot(slot: string): Promise<void> {
  for (const name of await readdir(slot)) {
    await rm(join(slot, name), { recursive: true, force: true });
  }
  await mkdir(slot, { recursive: true });
}
