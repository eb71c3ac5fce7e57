import { execFile } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { SkillOptimizerError } from '../errors.js';

/**
 * The Claude Code agent for the Action's `claude-code` runner. The bundled Action cannot carry the
 * agent's native binary, so the first job that needs it installs the pinned SDK with npm into a
 * cache folder (kept between runs by the workflow's actions/cache step), then checks that the
 * binary starts before any trial depends on it.
 */

/** The pinned SDK: the same version as package.json's dependency (a test keeps them equal). */
export const CLAUDE_AGENT_SDK_VERSION = '0.3.330';
const SDK_PACKAGE = '@anthropic-ai/claude-agent-sdk';
const START_TIMEOUT_MS = 30_000;
const INSTALL_TIMEOUT_MS = 300_000;

export class ClaudeCodeInstallError extends SkillOptimizerError {}

/** Runs a program; rejects with its stderr when it fails. */
export type RunProgram = (
  file: string,
  args: string[],
  opts: { cwd: string; timeoutMs: number },
) => Promise<{ stdout: string }>;

export const runProgram: RunProgram = (file, args, opts) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = String(stderr).trim().split('\n').slice(-5).join(' | ');
          // execFile's message repeats stderr after its first line; keep one line of each.
          const first = error.message.split('\n')[0] ?? error.message;
          reject(new Error(detail === '' ? first : `${first}: ${detail}`));
        } else resolve({ stdout: String(stdout) });
      },
    );
  });

/** Where the platform's binary lands under an npm prefix (the SDK's optional dependency). */
export function agentBinaryPath(prefix: string, platform = process.platform, arch = process.arch) {
  return path.join(
    prefix,
    'node_modules',
    '@anthropic-ai',
    `claude-agent-sdk-${platform}-${arch}`,
    'claude',
  );
}

/**
 * The agent's binary under `<cacheDir>/<version>`: installed with `npm` when absent, then started
 * once (`--version`) to prove it runs here. Errors name what failed and how to fix it.
 */
export async function ensureClaudeCode(opts: {
  cacheDir: string;
  log: (line: string) => void;
  run?: RunProgram;
  /** The npm program (default `npm` from PATH). */
  npm?: string;
}): Promise<string> {
  const run = opts.run ?? runProgram;
  const prefix = path.join(opts.cacheDir, CLAUDE_AGENT_SDK_VERSION);
  const binary = agentBinaryPath(prefix);
  if (await isExecutable(binary)) {
    opts.log(
      `Claude Code agent: using the cached ${SDK_PACKAGE}@${CLAUDE_AGENT_SDK_VERSION} in ${prefix}`,
    );
  } else {
    opts.log(
      `Claude Code agent: installing ${SDK_PACKAGE}@${CLAUDE_AGENT_SDK_VERSION} into ${prefix}`,
    );
    await mkdir(prefix, { recursive: true });
    try {
      await run(
        opts.npm ?? 'npm',
        [
          'install',
          '--prefix',
          prefix,
          '--no-save',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          `${SDK_PACKAGE}@${CLAUDE_AGENT_SDK_VERSION}`,
        ],
        { cwd: prefix, timeoutMs: INSTALL_TIMEOUT_MS },
      );
    } catch (error) {
      throw new ClaudeCodeInstallError(
        `installing the Claude Code agent (${SDK_PACKAGE}@${CLAUDE_AGENT_SDK_VERSION}) with npm failed: ${describe(error)}. The runner needs npm and access to the npm registry; or set \`runner: messages\` in the config.`,
      );
    }
    if (!(await isExecutable(binary))) {
      throw new ClaudeCodeInstallError(
        `the Claude Code agent installed, but it has no binary for this runner (${process.platform}-${process.arch}) at ${binary}; use a Linux or macOS runner, or set \`runner: messages\` in the config`,
      );
    }
  }
  let version: string;
  try {
    version = (
      await run(binary, ['--version'], { cwd: prefix, timeoutMs: START_TIMEOUT_MS })
    ).stdout.trim();
  } catch (error) {
    throw new ClaudeCodeInstallError(
      `the Claude Code agent at ${binary} does not start: ${describe(error)}. Delete the cache folder ${opts.cacheDir} (or its actions/cache entry) to install it again.`,
    );
  }
  opts.log(`Claude Code agent: ${version || 'started'}`);
  return binary;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    if ((error as NodeJS.ErrnoException).code === 'EACCES') return false;
    throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
