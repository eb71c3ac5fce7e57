import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { SandboxResult } from './types.js';
import { TRIAL_MARKER_VAR, type TrialWatch, type WatchLimits, watchTrial } from './watch.js';

export interface SpawnLimitedOptions {
  cwd: string;
  /** The complete environment of the spawned process (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  stdin?: string;
  signal?: AbortSignal;
  /**
   * Kill the whole process group as soon as the main process exits, so background children
   * cannot outlive the command (bubblewrap gets this from its PID namespace instead).
   */
  reapGroupOnExit: boolean;
  /** Process count and folder size, watched from outside; a breach kills the whole run. */
  watch: WatchLimits;
}

/** Keeps at most `max` bytes of a stream and keeps draining the rest, so the writer never blocks. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    const room = this.max - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `${text}\n[output truncated: more than ${this.max} bytes]` : text;
  }
}

/** SIGKILLs the process group led by `pid`; a group already gone is fine. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group is already gone, which is the state we want.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function collect(stream: Readable, into: CappedBuffer): void {
  stream.on('data', (chunk: Buffer) => into.push(chunk));
}

/**
 * Runs `file args` detached in its own process group with a fixed environment, a wall-clock
 * limit (SIGKILL to the group), capped output and a watch on its processes and folder. Resolves
 * once the process has exited, every descendant is dead (those that left the group with `setsid`
 * included) and its output pipes are closed; rejects only when the process cannot be spawned.
 */
export function spawnLimited(
  file: string,
  args: string[],
  opts: SpawnLimitedOptions,
): Promise<SandboxResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const stdout = new CappedBuffer(opts.maxOutputBytes);
    const stderr = new CappedBuffer(opts.maxOutputBytes);
    const marker = randomUUID();
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...opts.env, [TRIAL_MARKER_VAR]: marker },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let exited = false;
    let timedOut = false;
    let exitCode: number | null = null;
    let signal: string | null = null;
    let watch: TrialWatch | undefined;
    let stopping: Promise<void> | undefined;
    const stopWatch = () => {
      stopping ??= watch?.stop() ?? Promise.resolve();
      return stopping;
    };
    if (child.pid !== undefined) {
      watch = watchTrial(child.pid, marker, opts.watch, () => killGroup(child.pid));
    }

    // After the limit: kill the group; if the pipes are still held open (a grandchild that left
    // the group), stop waiting for them.
    const timer = setTimeout(() => {
      if (!exited) timedOut = true;
      killGroup(child.pid);
      void stopWatch().catch(reject);
      child.stdout.destroy();
      child.stderr.destroy();
    }, opts.timeoutMs);

    collect(child.stdout, stdout);
    collect(child.stderr, stderr);
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      // The command may exit or close stdin without reading it all; that is its choice.
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    // No stdin given: the command reads end-of-file at once.
    child.stdin.end(opts.stdin ?? '');

    const abort = () => killGroup(child.pid);
    opts.signal?.addEventListener('abort', abort, { once: true });
    if (opts.signal?.aborted) abort();

    child.on('error', (error) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
      void stopWatch().finally(() => reject(error));
    });
    child.on('exit', (code, sig) => {
      exited = true;
      exitCode = code;
      signal = sig;
      if (opts.reapGroupOnExit) {
        killGroup(child.pid);
        // Descendants that left the group still hold the pipes open: kill them too.
        void stopWatch().catch(reject);
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
      stopWatch().then(() => {
        const limit = watch?.breach ?? null;
        const note = limit === null ? '' : `\n[sandbox: killed: ${limit}]`;
        resolve({
          exitCode,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text() + note,
          timedOut,
          truncated: stdout.truncated || stderr.truncated,
          limit,
          durationMs: Math.round(performance.now() - started),
        });
      }, reject);
    });
  });
}
