import type { z } from 'zod';
import { allowedKeysAt } from './json-schema.js';

/** One problem to show the user: which field, whether to point at its key or value, and why. */
export interface ConfigProblem {
  path: PropertyKey[];
  target: 'value' | 'key';
  message: string;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value === 'number' ? 'the number' : ''} ${String(value)}`.trim();
}

const NOUNS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

/** zod's default wording, replaced where a config author needs something plainer. */
function reword(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input:')) {
    const expected = NOUNS[issue.expected] ?? issue.expected;
    const found = valueAt(value, issue.path);
    if (found === undefined) return `missing, expected ${expected}`;
    return `expected ${expected}, got ${kindOf(found)}`;
  }
  if (issue.code === 'invalid_value' && issue.message.startsWith('Invalid option:')) {
    return `expected one of ${issue.values.map(String).join(', ')}`;
  }
  if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'number') {
    const bound = issue.code === 'too_big' ? issue.maximum : issue.minimum;
    const word = issue.code === 'too_big' ? ['at most', 'less than'] : ['at least', 'more than'];
    return `must be ${issue.inclusive ? word[0] : word[1]} ${String(bound)}`;
  }
  return issue.message;
}

/** Turns zod's issues into problems located by field; unknown keys get one problem each. */
export function toConfigProblems(
  issues: readonly z.core.$ZodIssue[],
  value: unknown,
): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(issue.path);
      const hint = allowed === null ? '' : ` (allowed: ${allowed.join(', ')})`;
      return issue.keys.map((key) => ({
        path: [...issue.path, key],
        target: 'key',
        message: `unknown key${hint}`,
      }));
    }
    return [{ path: [...issue.path], target: 'value', message: reword(issue, value) }];
  });
}
