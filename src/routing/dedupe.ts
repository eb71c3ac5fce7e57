/**
 * Remembers recently handled events so a redelivered webhook (same delivery id) or a duplicate
 * command (same comment id, under another delivery) starts nothing twice (docs/security.md).
 *
 * An in-memory LRU bounded by `capacity` keys: the oldest keys are forgotten first. Claims are
 * taken before the work starts and released when it fails, so a retry after a failure runs again
 * while a concurrent duplicate is refused.
 */

export const DEFAULT_DEDUPE_CAPACITY = 10_000;

export function deliveryKey(deliveryId: string): string {
  return `delivery:${deliveryId}`;
}

export function commandKey(commentId: number): string {
  return `comment:${commentId}`;
}

export class RecentEvents {
  readonly #capacity: number;
  readonly #keys = new Map<string, true>();

  constructor(capacity: number = DEFAULT_DEDUPE_CAPACITY) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`dedupe capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#keys.size;
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Marks every key as handled and returns true, or returns false and marks nothing when any of
   * them was seen already (that key is refreshed as recently used).
   */
  claim(keys: readonly string[]): boolean {
    const seen = keys.filter((key) => this.#keys.has(key));
    if (seen.length > 0) {
      for (const key of seen) this.#touch(key);
      return false;
    }
    for (const key of keys) this.#touch(key);
    return true;
  }

  /** Forgets keys whose work failed, so a redelivery may try again. */
  release(keys: readonly string[]): void {
    for (const key of keys) this.#keys.delete(key);
  }

  #touch(key: string): void {
    this.#keys.delete(key);
    this.#keys.set(key, true);
    while (this.#keys.size > this.#capacity) {
      const oldest = this.#keys.keys().next();
      if (oldest.done === true) break;
      this.#keys.delete(oldest.value);
    }
  }
}

export function reviewKey(reviewId: number): string {
  return `review:${reviewId}`;
}
