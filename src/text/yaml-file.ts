import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InvalidFileError } from '../errors.js';

/** A parsed YAML text plus what is needed to point an error at its line. */
export interface ParsedYaml {
  value: unknown;
  doc: Document;
  lineCounter: LineCounter;
  /** Lines before the YAML text in its file (e.g. the `---` opening a frontmatter block). */
  lineOffset: number;
}

/**
 * The YAML document of `text` under the core schema only: tags it does not know (`!foo`,
 * `!!js/function`, `!!binary`) stay unresolved and show up in `doc.errors`/`doc.warnings` instead
 * of being turned into objects, merge keys are plain keys, and duplicate keys are errors.
 */
export function parseCoreDocument(text: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    schema: 'core',
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: true,
  });
  return { doc, lineCounter };
}

/**
 * Parses YAML with the core schema only: custom tags (`!foo`) and YAML 1.1 extras
 * (`!!binary`, `!!set`, ...) are rejected instead of being resolved, duplicate keys are errors.
 * `file` is the name shown to the user; `lineOffset` shifts reported lines.
 */
export function parseYaml(text: string, file: string, lineOffset = 0): ParsedYaml {
  const { doc, lineCounter } = parseCoreDocument(text);
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const line = lineCounter.linePos(problem.pos[0]).line + lineOffset;
    const what = problem.message.split('\n')[0] ?? problem.code;
    throw new InvalidFileError(file, `invalid YAML at line ${line}: ${what}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    // Only alias expansion can fail here (a "billion laughs" document).
    throw new InvalidFileError(file, `invalid YAML: ${(error as Error).message}`);
  }
  return { value, doc, lineCounter, lineOffset };
}

/** `limits.max_turns`, `probes[2]`; empty for the document root. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function lineOf(parsed: ParsedYaml, path: readonly PropertyKey[]): number | null {
  // Walk up to the deepest node that exists (a missing key points at its parent mapping).
  for (let depth = path.length; depth >= 0; depth--) {
    const keys = path.slice(0, depth).map((k) => (typeof k === 'symbol' ? String(k) : k));
    const node = depth === 0 ? parsed.doc.contents : parsed.doc.getIn(keys, true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return parsed.lineCounter.linePos(range[0]).line + parsed.lineOffset;
  }
  return null;
}

function describeIssue(issue: z.core.$ZodIssue, parsed: ParsedYaml | null): string[] {
  const entries: Array<{ path: PropertyKey[]; message: string }> =
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }))
      : [{ path: issue.path, message: issue.message }];
  return entries.map(({ path, message }) => {
    const field = formatFieldPath(path);
    const line = parsed ? lineOf(parsed, path) : null;
    const where = line === null ? '' : ` (line ${line})`;
    return field === '' ? `${message}${where}` : `${field}: ${message}${where}`;
  });
}

/** One line per problem: `field.path: message (line N)`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], parsed: ParsedYaml | null) {
  return issues.flatMap((issue) => describeIssue(issue, parsed)).join('; ');
}

/** Validates a parsed value; errors name the file, each field path and its line. */
export function validateParsed<S extends z.ZodType>(
  schema: S,
  parsed: ParsedYaml,
  file: string,
): z.output<S> {
  const result = schema.safeParse(parsed.value);
  if (!result.success)
    throw new InvalidFileError(file, describeIssues(result.error.issues, parsed));
  return result.data;
}
