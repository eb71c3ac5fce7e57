import type { FileChange } from '../store/port.js';
import { RUN_FILES } from './catalog.js';

/**
 * The comments and reviews a run has acted on, kept in the run dir on the work branch
 * (`answered.txt`, one `comment <id>` or `review <id>` per line). A webhook redelivered after the
 * App restarted, or a workflow dispatched again for the same comment, finds its id there and does
 * nothing: the record lives with the run, not in any process's memory.
 */

export interface AnsweredEvent {
  kind: 'comment' | 'review';
  /** GitHub's id of the comment or review. */
  id: number;
}

const LINE = /^(comment|review) ([1-9]\d{0,15})$/;

export function answeredKey(event: AnsweredEvent): string {
  return `${event.kind} ${event.id}`;
}

/** The keys in a run's record; lines that are not a key (hand edits) are skipped, not obeyed. */
export function parseAnswered(text: string | null): Set<string> {
  const keys = new Set<string>();
  for (const line of (text ?? '').split('\n')) {
    const trimmed = line.trim();
    if (LINE.test(trimmed)) keys.add(trimmed);
  }
  return keys;
}

export function hasAnswered(text: string | null, event: AnsweredEvent): boolean {
  return parseAnswered(text).has(answeredKey(event));
}

/** The record with `event` added (unchanged when it is there already). */
export function answeredChange(current: string | null, event: AnsweredEvent): FileChange {
  const text = current ?? '';
  if (hasAnswered(text, event)) return { path: RUN_FILES.answered, content: text };
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return { path: RUN_FILES.answered, content: `${base}${answeredKey(event)}\n` };
}
