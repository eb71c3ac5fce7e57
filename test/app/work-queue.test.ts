import { describe, expect, it } from 'vitest';
import { WorkQueue, WorkQueueFullError } from '../../src/app/work-queue.js';

/** A job that runs until `finish()`; `started` says whether the queue started it. */
function heldJob(label: string) {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const job = {
    label,
    started: false,
    run: () => {
      job.started = true;
      return done;
    },
  };
  return { job, finish, fail };
}

/** Lets the event loop turn a few times: a queued job starts on the turn after it is offered. */
async function turns(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('WorkQueue', () => {
  it('runs at most `concurrency` jobs at once and starts waiting ones in order', async () => {
    const queue = new WorkQueue({ concurrency: 2, backlog: 5 });
    const jobs = ['a', 'b', 'c', 'd'].map(heldJob);
    for (const { job } of jobs) queue.enqueue(job);
    expect(jobs.some(({ job }) => job.started)).toBe(false); // not before the caller goes on
    await turns();
    expect(jobs.map(({ job }) => job.started)).toEqual([true, true, false, false]);
    expect([queue.running, queue.waiting]).toEqual([2, 2]);

    jobs[1]?.finish();
    await turns();
    expect(jobs.map(({ job }) => job.started)).toEqual([true, true, true, false]);

    let idle = false;
    const waiting = queue.idle().then(() => {
      idle = true;
    });
    for (const { finish } of jobs) finish();
    await waiting;
    expect(idle).toBe(true);
    expect(jobs.every(({ job }) => job.started)).toBe(true);
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });

  it('refuses a job beyond its backlog instead of piling it up', () => {
    const queue = new WorkQueue({ concurrency: 1, backlog: 1 });
    queue.enqueue(heldJob('running').job);
    queue.enqueue(heldJob('waiting').job);
    const refused = heldJob('delivery d-3').job;
    expect(() => queue.enqueue(refused)).toThrow(WorkQueueFullError);
    expect(() => queue.enqueue(refused)).toThrow(
      /work queue is full \(1 running, 1 waiting\); delivery d-3 was not started/,
    );
    expect(refused.started).toBe(false);
    expect(new WorkQueueFullError('x').status).toBe(503);
  });

  it('a job that throws is handed to onUncaught and the queue goes on', async () => {
    const uncaught: Array<[string, string]> = [];
    const queue = new WorkQueue({
      concurrency: 1,
      onUncaught: (error, label) => uncaught.push([label, (error as Error).message]),
    });
    const first = heldJob('first');
    const second = heldJob('second');
    queue.enqueue(first.job);
    queue.enqueue(second.job);
    await turns();
    first.fail(new Error('boom'));
    await turns();
    expect(uncaught).toEqual([['first', 'boom']]);
    expect(second.job.started).toBe(true);
    second.finish();
    await queue.idle();
  });

  it('idle() resolves at once when there is nothing to do', async () => {
    await expect(new WorkQueue().idle()).resolves.toBeUndefined();
  });

  it('drain refuses new jobs and names those that did not finish in time', async () => {
    const queue = new WorkQueue({ concurrency: 1 });
    const quick = heldJob('delivery quick');
    const slow = heldJob('delivery slow');
    queue.enqueue(quick.job);
    queue.enqueue(slow.job);
    const draining = queue.drain(100);
    expect(() => queue.enqueue(heldJob('late').job)).toThrow(/shutting down; late was not started/);
    quick.finish();
    expect(await draining).toEqual({ drained: false, unfinished: ['delivery slow'] });
    slow.finish();
    expect(await queue.drain(1_000)).toEqual({ drained: true, unfinished: [] });
  });

  it.each([
    [{ concurrency: 0 }, /concurrency must be a positive integer, got 0/],
    [{ backlog: 1.5 }, /backlog must be a positive integer, got 1.5/],
  ])('rejects %j with a clear message', (options, message) => {
    expect(() => new WorkQueue(options)).toThrow(message);
  });
});
