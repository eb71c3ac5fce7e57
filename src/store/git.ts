import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SkillOptimizerError } from '../errors.js';
import { announceGitProcess } from './git-meter.js';

/** A git command failed; the message names the command and the first lines git printed. */
export class GitError extends SkillOptimizerError {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options: { cause?: unknown; detail?: string } = {},
  ) {
    const lines = stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .slice(0, 3);
    const what = options.detail ?? (lines.length > 0 ? lines.join(' / ') : 'no output');
    const status = exitCode === null ? 'could not run' : `failed (exit ${exitCode})`;
    super(`git ${args.join(' ')} ${status}: ${what}`, { cause: options.cause });
  }
}

export interface GitOptions {
  cwd: string;
  /** Added to the inherited environment (after the repository-locating variables are removed). */
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: readonly number[];
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Variables a parent git (a hook, a test runner inside a worktree) may have set that would point
 * our commands at another repository or index. Callers that mean them pass them in `env`.
 */
const INHERITED_GIT_LOCATORS = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_PREFIX',
  'GIT_CEILING_DIRECTORIES',
];

const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

export function gitEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_GIT_LOCATORS) delete env[name];
  env.GIT_TERMINAL_PROMPT = '0';
  return { ...env, ...extra };
}

/** Runs `git <args>` without a shell; rejects with GitError unless the exit code is 0 or in okCodes. */
export function runGit(args: readonly string[], opts: GitOptions): Promise<GitResult> {
  announceGitProcess(args, opts.cwd);
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...args],
      {
        cwd: opts.cwd,
        env: gitEnv(opts.env),
        encoding: 'buffer',
        maxBuffer: MAX_OUTPUT_BYTES,
        windowsHide: true,
      },
      (error, stdoutBytes, stderrBytes) => {
        const stderr = stderrBytes.toString('utf8');
        if (error === null) {
          resolve({ exitCode: 0, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        if (typeof code === 'number' && (opts.okCodes ?? []).includes(code)) {
          resolve({ exitCode: code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
          return;
        }
        if (code === 'ENOENT') {
          const detail = existsSync(opts.cwd)
            ? `git is not installed or not on PATH (needed to keep the run's history)`
            : `the folder ${opts.cwd} does not exist`;
          reject(new GitError(args, null, stderr, { cause: error, detail }));
          return;
        }
        reject(
          new GitError(args, typeof code === 'number' ? code : null, stderr, { cause: error }),
        );
      },
    );
    if (child.stdin !== null) {
      child.stdin.on('error', () => {
        // git exited before reading all of stdin; its exit code is reported by the callback.
      });
      child.stdin.end(opts.input ?? '');
    }
  });
}
