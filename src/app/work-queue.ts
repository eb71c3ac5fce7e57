import { SkillOptimizerError } from '../errors.js';

/**
 * The App's background work: what a webhook delivery asks of GitHub runs here, after the delivery
 * has been answered. At most `concurrency` jobs run at once and at most `backlog` wait; a job
 * offered beyond that is refused at once (the caller answers the delivery with an error, so
 * GitHub shows it as failed and it can be redelivered), never piled up without bound.
 *
 * A job reports its own failures; one that throws anyway is handed to `onUncaught`, so a failure
 * can never become an unhandled rejection or stop the queue.
 */

export const DEFAULT_WORK_CONCURRENCY = 32;
export const DEFAULT_WORK_BACKLOG = 10_000;

export interface WorkQueueOptions {
  /** Jobs running at once. */
  concurrency?: number;
  /** Jobs waiting for a free slot. */
  backlog?: number;
  /** Called with what a job threw (jobs should catch and report their own failures). */
  onUncaught?: (error: unknown, label: string) => void;
}

export interface Job {
  /** Names the job in errors and at shutdown, e.g. the delivery id. */
  label: string;
  run(): Promise<void>;
}

/** The queue was full: the delivery is refused rather than queued without bound. */
export class WorkQueueFullError extends SkillOptimizerError {
  /** probot's middleware answers the delivery with this status. */
  readonly status = 503;
}

export interface DrainResult {
  /** True when every job finished within the time given. */
  drained: boolean;
  /** The labels of the jobs still running or waiting when the time ran out. */
  unfinished: string[];
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`the App's work queue ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export class WorkQueue {
  readonly #concurrency: number;
  readonly #backlog: number;
  readonly #onUncaught: (error: unknown, label: string) => void;
  readonly #waiting: Job[] = [];
  readonly #running = new Set<Job>();
  #idleWaiters: Array<() => void> = [];
  #closed = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#concurrency = positiveInteger(
      'concurrency',
      options.concurrency ?? DEFAULT_WORK_CONCURRENCY,
    );
    this.#backlog = positiveInteger('backlog', options.backlog ?? DEFAULT_WORK_BACKLOG);
    this.#onUncaught =
      options.onUncaught ??
      ((error, label) => {
        // Without a handler the failure is still seen, never dropped.
        console.error(`skill-optimizer: background job ${label} failed`, error);
      });
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Jobs waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Starts `job` now when a slot is free, or queues it. Throws WorkQueueFullError when the
   * backlog is full, and an Error after `drain` began (the process is shutting down).
   */
  enqueue(job: Job): void {
    if (this.#closed) {
      throw new WorkQueueFullError(`the App is shutting down; ${job.label} was not started`, {
        retry: 'redeliver the webhook from the GitHub App settings',
      });
    }
    if (this.#running.size < this.#concurrency) {
      this.#start(job);
      return;
    }
    if (this.#waiting.length >= this.#backlog) {
      throw new WorkQueueFullError(
        `the App's work queue is full (${this.#running.size} running, ${this.#waiting.length} waiting); ${job.label} was not started`,
        { retry: 'redeliver the webhook from the GitHub App settings' },
      );
    }
    this.#waiting.push(job);
  }

  /** Resolves when nothing runs or waits (at once when that is so already). */
  idle(): Promise<void> {
    if (this.#running.size === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * For shutdown: refuses new jobs, then waits up to `timeoutMs` for the running and waiting ones
   * and says which did not finish.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const drained = await Promise.race([this.idle().then(() => true as const), timedOut]);
    clearTimeout(timer);
    const unfinished = [...this.#running, ...this.#waiting].map((job) => job.label);
    return { drained, unfinished };
  }

  #start(job: Job): void {
    this.#running.add(job);
    // Started on the next turn of the event loop: the answer to the delivery that queued the job
    // is written first, before any of the job's own work.
    const work = new Promise<void>((resolve) => setImmediate(resolve)).then(() => job.run());
    work
      .catch((error: unknown) => this.#onUncaught(error, job.label))
      .finally(() => {
        this.#running.delete(job);
        const next = this.#waiting.shift();
        if (next !== undefined) this.#start(next);
        else if (this.#running.size === 0) this.#wakeIdle();
      });
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
