import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';

/**
 * Records every child process started through `child_process.execFile` / `spawn` (git commands
 * of the run store, sandboxed graders and tools) from start to close, by swapping the module's
 * functions and re-syncing the ESM named exports the sources import.
 */

export interface ProcessSpan {
  /** The program's base name (`git`, `bwrap`, `node`...). */
  program: string;
  /** For git, its subcommand (`cat-file`, `commit`...); '' otherwise. */
  command: string;
  start: number;
  end: number;
}

type Starter = (...args: unknown[]) => ChildProcess;

/** The first word of a git command line that is neither an option nor an option's value. */
function gitSubcommand(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-c' || arg === '-C') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return '';
}

function timed(original: Starter, spans: ProcessSpan[]): Starter {
  return function (this: unknown, ...args: unknown[]) {
    const program = String(args[0]).split('/').pop() ?? '?';
    const argv = Array.isArray(args[1]) ? args[1].map(String) : [];
    const span: ProcessSpan = {
      program,
      command: program === 'git' ? gitSubcommand(argv) : '',
      start: performance.now(),
      end: Number.NaN,
    };
    spans.push(span);
    const child = original.apply(this, args);
    child.once('close', () => {
      span.end = performance.now();
    });
    return child;
  };
}

/**
 * `promisify(execFile)` resolves `{ stdout, stderr }` through the function's own
 * `promisify.custom`; the wrapper needs one too, or callers would get stdout alone and the
 * process would not be recorded.
 */
function withPromiseForm(execFile: Starter): Starter {
  const promised = (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      execFile(...args, (error: Error | null, stdout: unknown, stderr: unknown) => {
        if (error === null) resolve({ stdout, stderr });
        else reject(Object.assign(error, { stdout, stderr }));
      });
    });
  Object.defineProperty(execFile, promisify.custom, { value: promised });
  return execFile;
}

export function recordProcesses(): { spans: ProcessSpan[]; restore(): void } {
  const spans: ProcessSpan[] = [];
  const cp = childProcess as unknown as Record<'execFile' | 'spawn', Starter>;
  const original = { execFile: cp.execFile, spawn: cp.spawn };
  cp.execFile = withPromiseForm(timed(original.execFile, spans));
  cp.spawn = timed(original.spawn, spans);
  syncBuiltinESMExports();
  return {
    spans,
    restore() {
      cp.execFile = original.execFile;
      cp.spawn = original.spawn;
      syncBuiltinESMExports();
    },
  };
}

/** Length of the union of the spans, clipped to [from, to]. */
export function busyMs(spans: readonly ProcessSpan[], from: number, to: number): number {
  const clipped = spans
    .map((s) => ({ start: Math.max(s.start, from), end: Math.min(s.end, to) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let total = 0;
  let reach = from;
  for (const s of clipped) {
    if (s.end <= reach) continue;
    total += s.end - Math.max(s.start, reach);
    reach = s.end;
  }
  return total;
}

/** `git` subcommands by count, most frequent first: `cat-file ×300, ls-tree ×80`. */
export function gitCommands(spans: readonly ProcessSpan[]): string {
  const counts = new Map<string, number>();
  for (const s of spans) {
    if (s.program === 'git') counts.set(s.command, (counts.get(s.command) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([command, n]) => `${command} ×${n}`)
    .join(', ');
}
