import { type BenchProgress, benchProgressLine } from '../chain/bench-progress.js';
import { type CliIO, progressPrinter } from './io.js';

/** Between plain progress lines when stdout is not a terminal (a log, a CI job). */
export const PLAIN_PROGRESS_EVERY_MS = 15_000;

/**
 * Step 6's progress on the terminal: one line rewritten in place on a TTY; otherwise a plain
 * line for the first trial, then at most one per PLAIN_PROGRESS_EVERY_MS, and one whenever every
 * planned trial has settled. `interrupt` ends the live line before other output is printed.
 */
export function benchProgressOutput(
  io: CliIO,
  now: () => number = Date.now,
): { update(progress: BenchProgress): void; interrupt(): void } {
  const printer = progressPrinter(io);
  const tty = io.stdout.isTTY === true;
  let lastPlain: number | null = null;
  return {
    update(progress) {
      const line = `  ${benchProgressLine(progress)}`;
      if (tty) {
        printer.update(line);
        return;
      }
      const at = now();
      const due = lastPlain === null || at - lastPlain >= PLAIN_PROGRESS_EVERY_MS;
      if (due || progress.done === progress.total) {
        printer.update(line);
        lastPlain = at;
      }
    },
    interrupt() {
      printer.done();
    },
  };
}
