import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { drainOnShutdown } from '../../src/app/shutdown.js';
import { WorkQueue } from '../../src/app/work-queue.js';

/** A stand-in for `process`: signals are emitted by the test, exit codes recorded. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  let exited!: () => void;
  const done = new Promise<void>((resolve) => {
    exited = resolve;
  });
  return {
    signals: {
      once: (signal: 'SIGTERM' | 'SIGINT', listener: () => void) => emitter.once(signal, listener),
      exit: (code: number) => {
        exits.push(code);
        exited();
      },
    },
    emit: (signal: string) => emitter.emit(signal),
    exits,
    done,
  };
}

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    log: {
      info: (m: string) => lines.push(`info ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
    },
  };
}

describe('drainOnShutdown', () => {
  it('SIGTERM waits for the answered deliveries, then exits 0', async () => {
    const queue = new WorkQueue();
    let finish!: () => void;
    let finished = false;
    queue.enqueue({
      label: 'delivery d-1',
      run: () =>
        new Promise<void>((resolve) => {
          finish = () => {
            finished = true;
            resolve();
          };
        }),
    });
    const proc = fakeProcess();
    const { lines, log } = recorder();
    drainOnShutdown(queue, proc.signals, log, 5_000);
    await new Promise((resolve) => setImmediate(resolve)); // the job has started
    proc.emit('SIGTERM');
    expect(() => queue.enqueue({ label: 'late', run: async () => {} })).toThrow(/shutting down/);
    expect(proc.exits).toEqual([]);
    finish();
    await proc.done;
    expect(finished).toBe(true);
    expect(proc.exits).toEqual([0]);
    expect(lines).toEqual([
      'info skill-optimizer: SIGTERM: finishing 1 answered deliveries (up to 5000 ms)',
    ]);
  });

  it('SIGINT past the time limit names the deliveries left undone and exits 1', async () => {
    const queue = new WorkQueue();
    queue.enqueue({ label: 'delivery d-stuck', run: () => new Promise<void>(() => {}) });
    const proc = fakeProcess();
    const { lines, log } = recorder();
    drainOnShutdown(queue, proc.signals, log, 20);
    proc.emit('SIGINT');
    await proc.done;
    expect(proc.exits).toEqual([1]);
    expect(lines[1]).toBe(
      "error skill-optimizer: stopped with 1 answered deliveries not acted on; redeliver them from the GitHub App's settings: delivery d-stuck",
    );
  });
});
