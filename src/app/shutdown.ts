import type { WorkQueue } from './work-queue.js';

/**
 * At SIGTERM or SIGINT the App stops taking work and waits for the deliveries it has answered but
 * not yet acted on; those still unfinished when the time runs out are named in the log, so an
 * operator can redeliver them from the GitHub App's settings.
 */

export const DEFAULT_DRAIN_MS = 20_000;

/** The part of `process` used here. */
export interface ShutdownSignals {
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownLog {
  info(message: string): void;
  error(message: string): void;
}

export function drainOnShutdown(
  queue: WorkQueue,
  signals: ShutdownSignals,
  log: ShutdownLog,
  timeoutMs: number = DEFAULT_DRAIN_MS,
): void {
  let stopping = false;
  const stop = (signal: string) => async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(
      `skill-optimizer: ${signal}: finishing ${queue.running + queue.waiting} answered deliveries (up to ${timeoutMs} ms)`,
    );
    const result = await queue.drain(timeoutMs);
    if (result.drained) {
      signals.exit(0);
      return;
    }
    log.error(
      `skill-optimizer: stopped with ${result.unfinished.length} answered deliveries not acted on; redeliver them from the GitHub App's settings: ${result.unfinished.join(', ')}`,
    );
    signals.exit(1);
  };
  signals.once('SIGTERM', stop('SIGTERM'));
  signals.once('SIGINT', stop('SIGINT'));
}
