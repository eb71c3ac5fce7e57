import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { PathEscapeError, SkillOptimizerError } from '../errors.js';
import { GitError, runGit } from '../store/git.js';
import type { RunStore } from '../store/port.js';
import { normalizeRelativePath } from '../store/run-path.js';

/**
 * Applying a proposal's unified diff to a skill held in memory, with real `git apply` in a
 * throw-away folder (no shell). Paths in the diff are relative to the skill root
 * (`--- a/SKILL.md` / `+++ b/SKILL.md`); new and deleted files use `/dev/null`.
 */

export interface SkillFile {
  path: string;
  content: string;
}

/** The diff cannot be used on this skill; the message carries git's reason. */
export class DiffDoesNotApplyError extends SkillOptimizerError {}

const HEADER = /^(?:---|\+\+\+) (\S.*?)(?:\t.*)?$/;
const GIT_HEADER = /^diff --git (\S+) (\S+)$/;
const RENAME = /^(?:rename|copy) (?:from|to) (.+)$/;

/** Every path a diff names, as written (prefix included), /dev/null left out. */
function namedPaths(diff: string): string[] {
  const paths: string[] = [];
  for (const line of diff.split('\n')) {
    const header = HEADER.exec(line);
    if (header?.[1] !== undefined && header[1] !== '/dev/null') paths.push(header[1]);
    const git = GIT_HEADER.exec(line);
    if (git?.[1] !== undefined && git[2] !== undefined) paths.push(git[1], git[2]);
    const rename = RENAME.exec(line);
    if (rename?.[1] !== undefined) paths.push(`a/${rename[1]}`);
  }
  return paths;
}

/** `a/`/`b/` prefixes (git's default, -p1) or bare paths (-p0); refuses any path leaving the tree. */
function stripLevel(diff: string): 0 | 1 {
  const paths = namedPaths(diff);
  const prefixed = paths.length > 0 && paths.every((p) => /^[ab]\//.test(p));
  for (const p of paths) {
    const bare = prefixed ? p.slice(2) : p;
    try {
      normalizeRelativePath(bare, 'the skill folder');
    } catch (error) {
      if (error instanceof PathEscapeError) {
        throw new DiffDoesNotApplyError(`the diff touches '${bare}', outside the skill folder`, {
          cause: error,
        });
      }
      throw error;
    }
  }
  return prefixed ? 1 : 0;
}

async function writeTree(root: string, files: readonly SkillFile[]): Promise<void> {
  for (const file of files) {
    const path = normalizeRelativePath(file.path, 'the skill folder');
    const target = join(root, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content, 'utf8');
  }
}

async function readTree(root: string): Promise<SkillFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: SkillFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const path = relative(root, full).split(sep).join('/');
    if (path === '.git' || path.startsWith('.git/')) continue;
    files.push({ path, content: await readFile(full, 'utf8') });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The skill's files after the diff, sorted by path; deleted files are absent, new ones present.
 * Throws DiffDoesNotApplyError when git refuses the diff (nothing is applied partially).
 */
export async function applyUnifiedDiff(
  files: readonly SkillFile[],
  diff: string,
): Promise<SkillFile[]> {
  if (diff.trim() === '') throw new DiffDoesNotApplyError('the diff is empty');
  if (/^(?:new file mode|new mode|deleted file mode|old mode) 120000\b/m.test(diff)) {
    throw new DiffDoesNotApplyError(
      'the diff makes a symbolic link; a skill holds only plain files',
    );
  }
  if (/^(?:GIT binary patch|Binary files .* differ)$/m.test(diff)) {
    throw new DiffDoesNotApplyError(
      'the diff changes a binary file; only text files can be proposed',
    );
  }
  const level = stripLevel(diff);
  const root = await mkdtemp(join(tmpdir(), 'so-diff-'));
  try {
    await runGit(['init', '--quiet'], { cwd: root });
    await writeTree(root, files);
    try {
      await runGit(['apply', '--whitespace=nowarn', `-p${level}`, '-'], {
        cwd: root,
        input: diff.endsWith('\n') ? diff : `${diff}\n`,
      });
    } catch (error) {
      if (!(error instanceof GitError) || error.exitCode === null) throw error;
      throw new DiffDoesNotApplyError(
        `the diff does not apply cleanly: ${gitReason(error.stderr)}`,
        { cause: error },
      );
    }
    return await readTree(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Stages exactly `files` in the repository at `root` and returns the tree's id. */
async function stageTree(root: string, files: readonly SkillFile[]): Promise<string> {
  await runGit(['rm', '-r', '--cached', '--quiet', '--ignore-unmatch', '.'], { cwd: root });
  for (const entry of await readdir(root)) {
    if (entry !== '.git') await rm(join(root, entry), { recursive: true, force: true });
  }
  await writeTree(root, files);
  await runGit(['add', '--all', '--force', '.'], { cwd: root });
  return (await runGit(['write-tree'], { cwd: root })).stdout.trim();
}

/**
 * The unified diff from `before` to `after` (paths `a/…`, `b/…`, new and deleted files against
 * /dev/null), made by git so that `applyUnifiedDiff(before, diff)` gives `after` back.
 */
export async function unifiedDiff(
  before: readonly SkillFile[],
  after: readonly SkillFile[],
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'so-diff-'));
  try {
    await runGit(['init', '--quiet'], { cwd: root });
    const from = await stageTree(root, before);
    const to = await stageTree(root, after);
    const { stdout } = await runGit(
      [
        '-c',
        'core.quotePath=false',
        'diff-tree',
        '-p',
        '-r',
        '--no-renames',
        '--no-color',
        '--no-ext-diff',
        '--src-prefix=a/',
        '--dst-prefix=b/',
        from,
        to,
      ],
      { cwd: root },
    );
    return stdout;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function gitReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^error:\s*/, '').trim())
    .filter((l) => l !== '');
  return lines.length === 0 ? 'git gave no reason' : lines.slice(0, 6).join(' / ');
}

/**
 * Every text file of a skill copy in the run dir, in full (diffs apply to whole files, unlike the
 * trimmed snapshot a model is shown); binary files are left out — a diff cannot touch them.
 */
export async function readSkillFiles(store: RunStore, copy: string): Promise<SkillFile[]> {
  const files: SkillFile[] = [];
  for (const full of await store.list(copy)) {
    const bytes = await store.readBytes(full);
    if (bytes === null || bytes.includes(0)) continue;
    files.push({ path: full.slice(copy.length + 1), content: bytes.toString('utf8') });
  }
  return files;
}

/** The files a diff wrote (new or changed) and the paths it deleted, comparing before and after. */
export function changedFiles(
  before: readonly SkillFile[],
  after: readonly SkillFile[],
): { written: SkillFile[]; deleted: string[] } {
  const old = new Map(before.map((f) => [f.path, f.content]));
  const kept = new Set(after.map((f) => f.path));
  return {
    written: after.filter((f) => old.get(f.path) !== f.content),
    deleted: before.filter((f) => !kept.has(f.path)).map((f) => f.path),
  };
}

const FENCE_OPEN = /^(`{3,})diff[ \t]*$/;

/** A diff in a ```diff fence (diff lines never start with a backtick, so a fence is safe). */
export function renderDiffFence(diff: string): string {
  return `\`\`\`diff\n${diff.endsWith('\n') ? diff : `${diff}\n`}\`\`\``;
}

/** The diff of the last ```diff fence of a proposal body; null when there is none. */
export function extractDiff(body: string): string | null {
  const lines = body.split(/\r?\n/);
  let found: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i] ?? '');
    if (open?.[1] === undefined) continue;
    const fence = open[1];
    const end = lines.findIndex((l, j) => j > i && l.startsWith(fence) && l.trim() === fence);
    if (end < 0) break;
    found = `${lines.slice(i + 1, end).join('\n')}\n`;
    i = end;
  }
  return found;
}
