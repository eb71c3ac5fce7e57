import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';

/**
 * Every git process the tool starts (runGit and the long-lived readers) is announced on this
 * diagnostics channel, so a benchmark or a test can count them without wrapping child_process.
 * Nothing is published while no one listens.
 */
export const GIT_PROCESS_CHANNEL = 'skill-optimizer:git-process';

export interface GitProcessEvent {
  args: readonly string[];
  cwd: string;
}

const gitProcesses = channel(GIT_PROCESS_CHANNEL);

export function announceGitProcess(args: readonly string[], cwd: string): void {
  if (gitProcesses.hasSubscribers) gitProcesses.publish({ args, cwd } satisfies GitProcessEvent);
}

/** The first word of a git command line that is neither an option nor an option's value. */
export function gitSubcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-c' || arg === '-C') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return '';
}

export interface GitProcessCount {
  /** Git processes started since counting began (until stop()). */
  readonly total: number;
  /** The same, by subcommand (`commit`, `status`...). */
  readonly byCommand: ReadonlyMap<string, number>;
  /** `status ×4, add ×2`: most frequent first. */
  describe(): string;
  stop(): void;
}

/** Counts the git processes started from now on in this thread, until stop(). */
export function countGitProcesses(): GitProcessCount {
  const byCommand = new Map<string, number>();
  let total = 0;
  const onEvent = (message: unknown) => {
    const { args } = message as GitProcessEvent;
    total++;
    const command = gitSubcommand(args);
    byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
  };
  subscribe(GIT_PROCESS_CHANNEL, onEvent);
  return {
    get total() {
      return total;
    },
    byCommand,
    describe: () =>
      [...byCommand.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([command, n]) => `${command} ×${n}`)
        .join(', '),
    stop: () => {
      unsubscribe(GIT_PROCESS_CHANNEL, onEvent);
    },
  };
}
