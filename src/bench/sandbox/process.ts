import { dirname } from 'node:path';
import { scrubbedEnv } from './env.js';
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

/**
 * The weaker isolation, only on explicit request (or locally with no secret in reach): a plain
 * child process with a scrubbed environment, its own process group, resource limits, output caps
 * and the outside watch (process count, folder size; every descendant killed at exit, `setsid`
 * ones included). Weaker than bubblewrap: the command shares the network and the filesystem, and
 * can read other same-user processes' /proc/<pid>/environ. `readOnlyBinds` are checked but need
 * no mounting here.
 */
export class ProcessSandbox implements Sandbox {
  readonly level = 'process' as const;
  readonly nodePath = process.execPath;

  constructor(readonly fallbackReason: string | null = null) {}

  async run(argv: string[], opts: SandboxRunOptions): Promise<SandboxResult> {
    if (argv.length === 0) throw new Error('sandbox run needs a command');
    const run = await resolveRunOptions(opts);
    // No RLIMIT_NPROC here: it would count every process of this user; the watch caps the count.
    const { maxProcesses: _, ...limits } = run;
    const [file, ...args] = withResourceLimits(argv, limits) as [string, ...string[]];
    return spawnLimited(file, args, {
      cwd: run.cwd,
      env: scrubbedEnv({ home: run.cwd, nodeBinDir: dirname(this.nodePath), extra: run.env }),
      timeoutMs: run.timeoutMs,
      maxOutputBytes: run.maxOutputBytes,
      stdin: run.stdin,
      signal: run.signal,
      reapGroupOnExit: true,
      watch: watchLimits(run),
    });
  }

  runShell(command: string, opts: SandboxRunOptions): Promise<SandboxResult> {
    return this.run(['/bin/sh', '-c', command], opts);
  }

  start(argv: string[], opts: SandboxStartOptions): Promise<ResidentProcess> {
    return startResident(null, dirname(this.nodePath), argv, opts);
  }
}
