import { describe, expect, it } from 'vitest';
import { commandKey, deliveryKey, RecentEvents, reviewKey } from '../../src/routing/dedupe.js';

describe('RecentEvents', () => {
  it('claims a delivery once; a redelivery is refused', () => {
    const recent = new RecentEvents();
    expect(recent.claim([deliveryKey('abc')])).toBe(true);
    expect(recent.claim([deliveryKey('abc')])).toBe(false);
    expect(recent.claim([deliveryKey('def')])).toBe(true);
  });

  it('refuses a set when any key was seen, and then claims none of the others', () => {
    const recent = new RecentEvents();
    recent.claim([commandKey(5)]);
    expect(recent.claim([deliveryKey('new'), commandKey(5)])).toBe(false);
    expect(recent.has(deliveryKey('new'))).toBe(false);
  });

  it('keeps comment, review and delivery keys apart', () => {
    expect(new Set([commandKey(1), reviewKey(1), deliveryKey('1')]).size).toBe(3);
  });

  it('release lets a failed event be retried', () => {
    const recent = new RecentEvents();
    recent.claim([deliveryKey('x')]);
    recent.release([deliveryKey('x')]);
    expect(recent.claim([deliveryKey('x')])).toBe(true);
  });

  it('is bounded: the least recently seen key is forgotten first', () => {
    const recent = new RecentEvents(3);
    for (const id of ['a', 'b', 'c']) recent.claim([id]);
    expect(recent.claim(['a'])).toBe(false); // refreshes a
    recent.claim(['d']); // evicts b, the oldest
    expect(recent.size).toBe(3);
    expect(recent.has('b')).toBe(false);
    expect(recent.has('a')).toBe(true);
    for (let i = 0; i < 1000; i += 1) recent.claim([`k${i}`]);
    expect(recent.size).toBe(3);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentEvents(0)).toThrow(RangeError);
    expect(() => new RecentEvents(1.5)).toThrow(RangeError);
  });
});
