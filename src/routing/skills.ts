/**
 * Which skills a pull request changes (docs/chain.md "skill PR"): the folders holding a `SKILL.md`
 * that contain a changed file. A file belongs to the deepest such folder above it, so a skill
 * nested inside another skill's folder is its own skill. Paths are repository-relative with `/`;
 * the repository root is written `.`. Files under the run-dir root (vendored copies, reports) never
 * count.
 */

export const SKILL_FILE = 'SKILL.md';
export const ROOT_FOLDER = '.';

export type SkillDetection =
  | { kind: 'found'; skills: string[] }
  | { kind: 'none'; message: string };

export interface DetectOptions {
  /** The run-dir root from the config (e.g. `.skill-optimizer`), ignored as a source of skills. */
  runDir: string;
}

function parentFolders(path: string): string[] {
  const parts = path.split('/');
  const folders: string[] = [];
  for (let i = parts.length - 1; i >= 1; i -= 1) folders.push(parts.slice(0, i).join('/'));
  folders.push(ROOT_FOLDER);
  return folders; // deepest first
}

function manifestPath(folder: string): string {
  return folder === ROOT_FOLDER ? SKILL_FILE : `${folder}/${SKILL_FILE}`;
}

function isUnderRunDir(path: string, runDir: string): boolean {
  const root = runDir.replace(/\/+$/, '');
  return path === root || path.startsWith(`${root}/`);
}

function relevant(changed: readonly string[], opts: DetectOptions): string[] {
  return changed.filter(
    (path) =>
      path !== '' &&
      !path.startsWith('/') &&
      !path.split('/').includes('..') &&
      !isUnderRunDir(path, opts.runDir),
  );
}

/** Every `SKILL.md` path that, if it exists at the PR head, makes a changed file part of a skill. */
export function manifestCandidates(changed: readonly string[], opts: DetectOptions): string[] {
  const out = new Set<string>();
  for (const path of relevant(changed, opts)) {
    for (const folder of parentFolders(path)) out.add(manifestPath(folder));
  }
  return [...out].sort();
}

/**
 * The skill folders changed, given which `SKILL.md` files exist at the PR head (`manifests`:
 * repository paths such as `skills/pdf/SKILL.md`; any other path in the list is ignored).
 */
export function changedSkillFolders(
  changed: readonly string[],
  manifests: Iterable<string>,
  opts: DetectOptions,
): string[] {
  const present = new Set(manifests);
  const skills = new Set<string>();
  for (const path of relevant(changed, opts)) {
    const owner = parentFolders(path).find((folder) => present.has(manifestPath(folder)));
    if (owner !== undefined) skills.add(owner);
  }
  return [...skills].sort();
}

export function noSkillMessage(runLabel: string): string {
  return [
    'Skill Optimizer found no skill in this pull request: none of the changed files is inside a',
    `folder that contains a \`${SKILL_FILE}\`. Add or change a skill folder (one with a`,
    `\`${SKILL_FILE}\`), then comment \`/optimize\` or add the \`${runLabel}\` label again.`,
  ].join(' ');
}

/** `changedSkillFolders` as a result that carries the comment to post when nothing was found. */
export function detectSkills(
  changed: readonly string[],
  manifests: Iterable<string>,
  opts: DetectOptions & { runLabel: string },
): SkillDetection {
  const skills = changedSkillFolders(changed, manifests, opts);
  return skills.length > 0
    ? { kind: 'found', skills }
    : { kind: 'none', message: noSkillMessage(opts.runLabel) };
}
