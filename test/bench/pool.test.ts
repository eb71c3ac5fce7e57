import { describe, expect, it } from 'vitest';
import { createLimiter, mapBounded } from '../../src/bench/pool.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('mapBounded', () => {
  it('keeps order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      for (let i = 0; i < n; i++) await tick();
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it('rejects with the first error and starts nothing new after it', async () => {
    const started: number[] = [];
    await expect(
      mapBounded([1, 2, 3, 4], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('boom');
        return n;
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });

  it('handles an empty list', async () => {
    expect(await mapBounded([], 4, async () => 1)).toEqual([]);
  });
});

describe('createLimiter', () => {
  it('runs queued work in order with at most the limit in flight', async () => {
    const limit = createLimiter(2);
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (n: number) =>
      limit(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        order.push(n);
        await tick();
        inFlight--;
        return n;
      });
    expect(await Promise.all([job(1), job(2), job(3), job(4)])).toEqual([1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('passes a rejection to its caller and keeps going', async () => {
    const limit = createLimiter(1);
    const failed = limit(async () => {
      throw new Error('nope');
    });
    await expect(failed).rejects.toThrow('nope');
    expect(await limit(async () => 'next')).toBe('next');
  });
});
