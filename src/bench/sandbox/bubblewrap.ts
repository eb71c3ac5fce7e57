import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bwrapArgs } from './bwrap-args.js';
import { scrubbedEnv } from './env.js';
import { BWRAP_INSTALL_HINT, discoverHostLayout, type HostLayout } from './host-layout.js';
import { withResourceLimits } from './limits.js';
import { resolveRunOptions, watchLimits } from './options.js';
import { startResident } from './resident.js';
import { spawnLimited } from './spawn.js';
import type {
  ResidentProcess,
  Sandbox,
  SandboxResult,
  SandboxRunOptions,
  SandboxStartOptions,
} from './types.js';

export class BubblewrapSandbox implements Sandbox {
  readonly level = 'bubblewrap' as const;
  readonly fallbackReason = null;
  readonly nodePath: string;

  /** `layout` is public so an agent runner can seal its own process the same way. */
  constructor(readonly layout: HostLayout) {
    this.nodePath = layout.nodePath;
  }

  async run(argv: string[], opts: SandboxRunOptions): Promise<SandboxResult> {
    if (argv.length === 0) throw new Error('sandbox run needs a command');
    const run = await resolveRunOptions(opts);
    // bwrap itself is PID 1 inside the namespace and its /proc/1/environ is readable there, so
    // bwrap must be started with the scrubbed environment; --clearenv alone would not do.
    const env = scrubbedEnv({ home: run.cwd, nodeBinDir: this.layout.nodeBinDir, extra: run.env });
    return spawnLimited(
      this.layout.bwrapPath,
      [
        ...bwrapArgs(this.layout, run),
        // Inside the user namespace RLIMIT_NPROC counts only this run's processes.
        ...withResourceLimits(argv, run),
      ],
      {
        cwd: run.cwd,
        env,
        timeoutMs: run.timeoutMs,
        maxOutputBytes: run.maxOutputBytes,
        stdin: run.stdin,
        signal: run.signal,
        reapGroupOnExit: true,
        watch: watchLimits(run),
      },
    );
  }

  runShell(command: string, opts: SandboxRunOptions): Promise<SandboxResult> {
    return this.run(['/bin/sh', '-c', command], opts);
  }

  start(argv: string[], opts: SandboxStartOptions): Promise<ResidentProcess> {
    return startResident(this.layout, this.layout.nodeBinDir, argv, opts);
  }
}

/**
 * Starts bubblewrap once with the full mount layout and runs node inside it. Resolves to the
 * sandbox, or to the reason (with the fix) why bubblewrap cannot be used here.
 */
export async function probeBubblewrap(): Promise<BubblewrapSandbox | string> {
  if (process.platform !== 'linux') return `bubblewrap needs Linux (this is ${process.platform})`;
  let layout: HostLayout | string;
  try {
    layout = await discoverHostLayout();
  } catch (error) {
    return `cannot inspect bwrap (${(error as Error).message}): ${BWRAP_INSTALL_HINT}`;
  }
  if (typeof layout === 'string') return layout;
  const sandbox = new BubblewrapSandbox(layout);
  const dir = await mkdtemp(join(tmpdir(), 'so-bwrap-probe-'));
  try {
    const result = await sandbox.run([layout.nodePath, '-e', 'process.stdout.write("ok")'], {
      cwd: dir,
      timeoutMs: 20_000,
    });
    if (result.exitCode === 0 && result.stdout === 'ok') return sandbox;
    const detail = result.timedOut
      ? 'timed out'
      : result.stderr.trim() || `exit ${result.exitCode}`;
    return `bwrap cannot start a sandbox here (${detail}): ${BWRAP_INSTALL_HINT}`;
  } catch (error) {
    return `bwrap cannot start (${(error as Error).message}): ${BWRAP_INSTALL_HINT}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
