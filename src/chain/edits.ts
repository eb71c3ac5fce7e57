import { z } from 'zod';
import { PathEscapeError, SkillOptimizerError } from '../errors.js';
import { normalizeRelativePath } from '../store/run-path.js';
import type { SkillFile } from './diff.js';

/**
 * The optimizer's change as structured edits, applied here to the skill held in memory: per
 * file, exact replacements (each old text must occur exactly once) or the whole new content.
 * A model copies text far more reliably than it counts hunk lines, and every failure names the
 * edit and the reason so it can be sent back to the model for a repair.
 */

const skillPath = z
  .string()
  .min(1)
  .max(300)
  .describe('Relative to the skill folder, "/"-separated (SKILL.md, reference/x.md)');

export const replaceEdit = z.strictObject({
  path: skillPath,
  replace: z
    .array(
      z.strictObject({
        old: z
          .string()
          .min(1)
          .describe('Exact text of the current file, whitespace included; must occur once'),
        new: z.string().describe('The text that takes its place'),
      }),
    )
    .min(1)
    .describe('Replacements applied in order, each to the result of the one before'),
});

export const contentEdit = z.strictObject({
  path: skillPath,
  content: z.string().describe('The whole new content of the file (for new or small files)'),
});

export const skillEdit = z.union([replaceEdit, contentEdit]);
export type SkillEdit = z.infer<typeof skillEdit>;

/** Edits that cannot be applied to this skill; `problems` names each edit and why. */
export class EditsDoNotApplyError extends SkillOptimizerError {
  constructor(readonly problems: readonly string[]) {
    super(`the edits do not apply: ${problems.join('; ')}`);
  }
}

const MAX_QUOTE = 80;

function quote(text: string): string {
  const oneLine = JSON.stringify(text);
  return oneLine.length <= MAX_QUOTE ? oneLine : `${oneLine.slice(0, MAX_QUOTE - 1)}…"`;
}

/** 1-based line numbers of every occurrence of `needle` in `text`. */
function occurrences(text: string, needle: string): number[] {
  const lines: number[] = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    lines.push(text.slice(0, at).split('\n').length);
  }
  return lines;
}

/** The first line of `old` that is missing from the file, to point at what was mistyped. */
function firstMissingLine(content: string, old: string): string | null {
  for (const line of old.split('\n')) {
    if (line.trim() !== '' && !content.includes(line)) return line;
  }
  return null;
}

function notFound(where: string, content: string, old: string): string {
  const missing = firstMissingLine(content, old);
  const hint =
    missing === null
      ? 'each of its lines occurs, but not together in this order'
      : `the line ${quote(missing)} does not occur in the file`;
  return `${where}: the old text ${quote(old)} was not found (${hint}); copy it exactly from the current file, whitespace included`;
}

interface Applied {
  files: SkillFile[];
  problems: string[];
}

/** Paths of the skill that are not text (left out of `files`): edits may not touch them. */
export interface EditContext {
  binary?: ReadonlySet<string>;
}

function applyAll(
  files: readonly SkillFile[],
  edits: readonly SkillEdit[],
  context: EditContext,
): Applied {
  const current = new Map(files.map((f) => [f.path, f.content]));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, edit] of edits.entries()) {
    let path: string;
    try {
      path = normalizeRelativePath(edit.path, 'the skill folder');
    } catch (error) {
      if (!(error instanceof PathEscapeError)) throw error;
      problems.push(`edit ${i + 1}: ${error.message}`);
      continue;
    }
    const label = `edit ${i + 1} (${path})`;
    if (seen.has(path)) {
      problems.push(`${label}: ${path} is edited twice; put all its changes in one edit`);
      continue;
    }
    seen.add(path);
    if (context.binary?.has(path)) {
      problems.push(`${label}: ${path} is a binary file; only text files can be edited`);
      continue;
    }
    if ('content' in edit) {
      current.set(path, edit.content);
      continue;
    }
    let content = current.get(path);
    if (content === undefined) {
      problems.push(`${label}: the skill has no text file ${path}; give \`content\` to create it`);
      continue;
    }
    for (const [j, { old, new: replacement }] of edit.replace.entries()) {
      const where = `${label}, replacement ${j + 1}`;
      const found = occurrences(content, old);
      if (found.length === 0) {
        problems.push(notFound(where, content, old));
      } else if (found.length > 1) {
        problems.push(
          `${where}: the old text ${quote(old)} occurs ${found.length} times (lines ${found.join(', ')}); include more of the surrounding text so it occurs exactly once`,
        );
      } else {
        const at = content.indexOf(old);
        content = content.slice(0, at) + replacement + content.slice(at + old.length);
      }
    }
    current.set(path, content);
  }
  const after = [...current.entries()]
    .map(([path, content]) => ({ path, content }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: after, problems };
}

/** What keeps the edits from applying to these files, one line per problem; empty when none. */
export function editProblems(
  files: readonly SkillFile[],
  edits: readonly SkillEdit[],
  context: EditContext = {},
): string[] {
  return applyAll(files, edits, context).problems;
}

/** The skill's files after the edits, sorted by path; throws EditsDoNotApplyError otherwise. */
export function applyEdits(
  files: readonly SkillFile[],
  edits: readonly SkillEdit[],
  context: EditContext = {},
): SkillFile[] {
  const { files: after, problems } = applyAll(files, edits, context);
  if (problems.length > 0) throw new EditsDoNotApplyError(problems);
  return after;
}
