import { realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import {
  DEFAULT_MAX_DISK_MB,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MAX_PROCESSES,
  DEFAULT_MEMORY_MB,
  type SandboxRunOptions,
} from './types.js';

export interface ResolvedRunOptions {
  /** Real path of the trial dir. */
  cwd: string;
  timeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
  maxProcesses: number;
  maxDiskMb: number;
  env: Record<string, string>;
  /** Real paths. */
  readOnlyBinds: string[];
  stdin: string | undefined;
  signal: AbortSignal | undefined;
}

async function existingRealDir(path: string, what: string): Promise<string> {
  if (!isAbsolute(path)) throw new Error(`sandbox ${what} must be an absolute path, got ${path}`);
  const real = await realpath(path);
  if (!(await stat(real)).isDirectory())
    throw new Error(`sandbox ${what} ${path} is not a directory`);
  return real;
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`sandbox ${what} must be > 0, got ${value}`);
  return value;
}

/** Checks the caller's options (programming errors throw) and fills the defaults. */
export async function resolveRunOptions(opts: SandboxRunOptions): Promise<ResolvedRunOptions> {
  return {
    cwd: await existingRealDir(opts.cwd, 'cwd'),
    timeoutMs: positive(opts.timeoutMs, 'timeoutMs'),
    memoryMb: positive(opts.memoryMb ?? DEFAULT_MEMORY_MB, 'memoryMb'),
    maxOutputBytes: positive(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, 'maxOutputBytes'),
    maxProcesses: Math.floor(positive(opts.maxProcesses ?? DEFAULT_MAX_PROCESSES, 'maxProcesses')),
    maxDiskMb: positive(opts.maxDiskMb ?? DEFAULT_MAX_DISK_MB, 'maxDiskMb'),
    env: opts.env ?? {},
    readOnlyBinds: await Promise.all(
      (opts.readOnlyBinds ?? []).map((path) => existingRealDir(path, 'read-only bind')),
    ),
    stdin: opts.stdin,
    signal: opts.signal,
  };
}

/** What `spawnLimited` watches from outside for one resolved run. */
export function watchLimits(run: ResolvedRunOptions) {
  return {
    dir: run.cwd,
    maxProcesses: run.maxProcesses,
    maxDirBytes: Math.floor(run.maxDiskMb * 1024 * 1024),
  };
}
