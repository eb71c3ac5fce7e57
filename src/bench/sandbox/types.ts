import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { IsolationLevel } from '../types.js';

export interface SandboxRunOptions {
  /** Absolute path; the only writable directory; must exist. */
  cwd: string;
  timeoutMs: number;
  /** Data-segment limit (RLIMIT_DATA: heap and private writable mappings); default 1024. */
  memoryMb?: number;
  /** Cap for stdout and for stderr, each; default 64 KiB. */
  maxOutputBytes?: number;
  /** Processes alive at once (the command included) before the run is killed; default 128. */
  maxProcesses?: number;
  /**
   * Size cap for the trial folder (cwd) as a whole and for any one file written (RLIMIT_FSIZE);
   * default 100. Going over kills the run.
   */
  maxDiskMb?: number;
  /** Extra variables (caller-vetted), merged onto the scrubbed base. */
  env?: Record<string, string>;
  /** Extra absolute paths visible read-only at the same path (e.g. a grader's probe dir). */
  readOnlyBinds?: string[];
  stdin?: string;
  /** Aborting kills the command's process group (the result then shows signal SIGKILL). */
  signal?: AbortSignal;
}

/** A long-lived process (`Sandbox.start`): the run options without a wall-clock limit. */
export interface SandboxStartOptions
  extends Omit<SandboxRunOptions, 'timeoutMs' | 'stdin' | 'signal' | 'maxOutputBytes'> {
  /** RLIMIT_CPU over the process's whole life: the backstop behind the caller's own timers. */
  cpuSeconds: number;
  /** Killing what was left of it failed; the caller logs it. */
  onCleanupError: (error: unknown) => void;
}

export interface SandboxResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** stdout or stderr went over the cap; the kept text ends with a note saying so. */
  truncated: boolean;
  /** The limit whose breach killed the run (too many processes, folder too large), or null. */
  limit: string | null;
  durationMs: number;
}

export interface Sandbox {
  readonly level: IsolationLevel;
  /** Why `auto` fell back to `process`; null when the requested level is in use. */
  readonly fallbackReason: string | null;
  /** Absolute path of a node binary runnable inside the sandbox. */
  readonly nodePath: string;
  run(argv: string[], opts: SandboxRunOptions): Promise<SandboxResult>;
  runShell(command: string, opts: SandboxRunOptions): Promise<SandboxResult>;
  /** Starts `argv` as a long-lived process under the same isolation and limits. */
  start(argv: string[], opts: SandboxStartOptions): Promise<ResidentProcess>;
}

export const DEFAULT_MEMORY_MB = 1024;
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
export const DEFAULT_MAX_PROCESSES = 128;
export const DEFAULT_MAX_DISK_MB = 100;

/**
 * A long-lived process under the same isolation and limits as a sandbox's short commands: the
 * same mounts (bubblewrap) or process group (process mode), a scrubbed environment, rlimits, and
 * the outside watch on its process count and on the size of its writable folder. It talks over
 * its stdin and stdout; no wall-clock limit applies, the caller times each exchange and kills it.
 */
export interface ResidentProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Why the watch killed it for a limit, or null. */
  readonly breach: string | null;
  /** Counts processes and folder size only while true (an idle resident costs nothing). */
  setWatched(watched: boolean): void;
  /** SIGKILLs it and everything it started; settles once all of it is gone. */
  kill(): Promise<void>;
  /** Settles once it has exited and every process it left behind has been killed. */
  readonly cleanedUp: Promise<void>;
}
