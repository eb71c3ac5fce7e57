import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { bwrapArgs } from './bwrap-args.js';
import { scrubbedEnv } from './env.js';
import type { HostLayout } from './host-layout.js';
import { withResourceLimits } from './limits.js';
import { resolveRunOptions } from './options.js';
import { killGroup } from './spawn.js';
import type { ResidentProcess, SandboxStartOptions } from './types.js';
import { TRIAL_MARKER_VAR, watchTrial } from './watch.js';

/** bwrap's layout for the strong mode; null runs a plain process group. */
export function startResident(
  layout: HostLayout | null,
  nodeBinDir: string,
  argv: string[],
  opts: SandboxStartOptions,
): Promise<ResidentProcess> {
  return resolveRunOptions({ ...opts, timeoutMs: 1 }).then((run) => {
    const limits = {
      memoryMb: run.memoryMb,
      maxDiskMb: run.maxDiskMb,
      timeoutMs: 1,
      cpuSeconds: opts.cpuSeconds,
    };
    const env = scrubbedEnv({ home: run.cwd, nodeBinDir, extra: run.env });
    const launch =
      layout === null
        ? withResourceLimits(argv, limits)
        : [
            layout.bwrapPath,
            ...bwrapArgs(layout, run),
            ...withResourceLimits(argv, { ...limits, maxProcesses: run.maxProcesses }),
          ];
    const [file, ...args] = launch as [string, ...string[]];
    const marker = randomUUID();
    const child = spawn(file, args, {
      cwd: run.cwd,
      env: { ...env, [TRIAL_MARKER_VAR]: marker },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let watched = false;
    const watch =
      child.pid === undefined
        ? null
        : watchTrial(
            child.pid,
            marker,
            {
              dir: run.cwd,
              maxProcesses: run.maxProcesses,
              maxDirBytes: Math.floor(run.maxDiskMb * 1024 * 1024),
              active: () => watched,
            },
            () => killGroup(child.pid),
          );
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (watch?.stop() ?? Promise.resolve()).catch(opts.onCleanupError);
      return stopping;
    };
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const cleanedUp = exited.then(() => {
      killGroup(child.pid);
      return stop();
    });
    return {
      child,
      get breach() {
        return watch?.breach ?? null;
      },
      setWatched(value: boolean) {
        watched = value;
      },
      kill() {
        killGroup(child.pid);
        return cleanedUp;
      },
      cleanedUp,
    };
  });
}
