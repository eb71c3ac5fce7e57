import type { z } from 'zod';
import { parseFrontmatter, renderFrontmatter } from '../bench/frontmatter.js';
import { InvalidFileError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { dataSection, sanitizeUntrusted } from '../text/sanitize.js';
import { RUN_FILES, STEPS } from './catalog.js';
import { functionalityFrontmatter, submissionsFrontmatter } from './reports.js';
import type { ChainState } from './state.js';

/** The skill as a role may see it: every text file, sanitized. */
export interface SkillSnapshot {
  /** Which copy: `vendored-skill` or `improved-skill`. */
  copy: 'vendored-skill' | 'improved-skill';
  files: Array<{ path: string; content: string }>;
}

/** improved-skill/ once step 9 has created it, else vendored-skill/. */
export async function currentSkillCopy(store: RunStore): Promise<SkillSnapshot['copy']> {
  return (await store.exists(`${RUN_FILES.improved}/SKILL.md`))
    ? 'improved-skill'
    : 'vendored-skill';
}

/**
 * Every text file of a skill copy, whole (a role over its context budget pages files in instead,
 * see skill-context.ts). SKILL.md comes first, then the files in the order SKILL.md first names
 * them, then the rest by path.
 */
export async function readSkill(
  store: RunStore,
  copy?: SkillSnapshot['copy'],
): Promise<SkillSnapshot> {
  const which = copy ?? (await currentSkillCopy(store));
  const paths = await store.list(which);
  const contents = await Promise.all(paths.map((full) => store.readBytes(full)));
  const files: SkillSnapshot['files'] = [];
  for (const [i, full] of paths.entries()) {
    const bytes = contents[i];
    if (bytes === null || bytes === undefined || bytes.includes(0)) continue; // binary files are not shown to models
    files.push({ path: full.slice(which.length + 1), content: bytes.toString('utf8') });
  }
  return { copy: which, files: orderByReference(files) };
}

/** SKILL.md first, then files in the order SKILL.md first mentions their path, then by path. */
export function orderByReference(
  files: readonly SkillSnapshot['files'][number][],
): SkillSnapshot['files'] {
  const main = files.find((f) => f.path === 'SKILL.md')?.content ?? '';
  const rank = (path: string): number => {
    if (path === 'SKILL.md') return -1;
    const at = main.indexOf(path);
    return at < 0 ? Number.POSITIVE_INFINITY : at;
  };
  return [...files].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
}

/** Every file of a skill as delimited, sanitized data sections. */
export function skillSections(skill: SkillSnapshot, label = 'skill'): string {
  return skill.files.map((f) => dataSection(`${label}/${f.path}`, f.content)).join('\n\n');
}

/** A list of human/operator directives as a data section ('none' when empty). */
export function directivesSection(directives: readonly string[]): string {
  if (directives.length === 0) return '(none)';
  return dataSection('directives', directives.map((d, i) => `${i + 1}. ${d}`).join('\n'));
}

export function intentSection(intent: string): string {
  return dataSection('intent', intent.trim() === '' ? '(no intent given)' : intent);
}

export async function readIntent(store: RunStore): Promise<string> {
  return (await store.read(RUN_FILES.intent)) ?? '';
}

/** A report's validated frontmatter and body; null when the file does not exist. */
export async function readReport<S extends z.ZodType>(
  store: RunStore,
  path: string,
  schema: S,
): Promise<{ data: z.output<S>; body: string } | null> {
  const text = await store.read(path);
  if (text === null) return null;
  return parseFrontmatter(text, `${store.runDir}/${path}`, schema);
}

/** Like readReport, but a missing report is an error naming the step that writes it. */
export async function requireReport<S extends z.ZodType>(
  store: RunStore,
  path: string,
  schema: S,
  producer: string,
): Promise<{ data: z.output<S>; body: string }> {
  const report = await readReport(store, path, schema);
  if (report === null) {
    throw new InvalidFileError(`${store.runDir}/${path}`, `missing; run step ${producer} first`);
  }
  return report;
}

/**
 * A report file, validated before it is written. The footer names the work-branch commit the
 * step derived it from, so a re-run always changes its output and clears its staleness.
 */
export function writeReport<S extends z.ZodType>(
  path: string,
  schema: S,
  data: z.input<S>,
  body: string,
  head: string,
): { path: string; content: string } {
  const valid = schema.parse(data) as Record<string, unknown>;
  const footer = `\n\n---\n_Derived from work-branch commit ${head.slice(0, 12)}._\n`;
  return { path, content: renderFrontmatter(valid, `${body.trim()}${footer}`) };
}

/** Untrusted free text from a model or a human, made safe to embed in markdown reports. */
export function cleanText(text: string): string {
  return sanitizeUntrusted(text).trim();
}

/** `01-functionality.md` as written (validated first, so a broken report fails here, named). */
export async function readFunctionalityReport(store: RunStore): Promise<string> {
  await requireReport(
    store,
    STEPS.functionality.report,
    functionalityFrontmatter,
    '1 (functionality)',
  );
  return (await store.read(STEPS.functionality.report)) ?? '';
}

/** `02-submissions.md` when the run is upstream-bound (validated), else null: others never see it. */
export async function readSubmissionsIfUpstream(
  store: RunStore,
  state: Pick<ChainState, 'upstream'>,
): Promise<string | null> {
  if (state.upstream !== true) return null;
  await requireReport(store, STEPS.submissions.report, submissionsFrontmatter, '2 (submissions)');
  return store.read(STEPS.submissions.report);
}
