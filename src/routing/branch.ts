import { branchNameProblem as gitBranchNameProblem } from '../github/branch-name.js';
import { InvalidBranchNameError } from '../github/errors.js';

/**
 * Work branches (`skill-optimizer/<pr>-<slug>`, docs/chain.md) and the validation of branch names
 * read from webhook payloads, which are untrusted: a name is accepted only when git itself would
 * accept it as a branch (src/github/branch-name.ts, the one implementation of git's rules) and it
 * cannot be mistaken for a full ref or `HEAD`, nor hide look-alike characters (printable ASCII
 * only).
 */

export { InvalidBranchNameError };

export const WORK_BRANCH_PREFIX = 'skill-optimizer/';

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Why `name` is not a safe branch name, or null when it is. */
export function branchNameProblem(name: string): string | null {
  const problem = gitBranchNameProblem(name);
  if (problem !== null) return problem;
  if (/[^\x21-\x7E]/.test(name)) return 'contains characters outside printable ASCII';
  if (name === 'HEAD') return "is the reserved name 'HEAD'";
  if (name.startsWith('refs/')) return "starts with 'refs/' (a full ref, not a branch)";
  return null;
}

export function isValidBranchName(name: string): boolean {
  return branchNameProblem(name) === null;
}

/** `name` unchanged when it is a safe branch name; otherwise an InvalidBranchNameError. */
export function assertBranchName(name: string): string {
  const problem = branchNameProblem(name);
  if (problem !== null) {
    throw new InvalidBranchNameError(`branch name ${JSON.stringify(name)} ${problem}`);
  }
  return name;
}

/** `skill-optimizer/<pr>-<slug>` for a skill PR and a run slug. */
export function workBranchName(pr: number, slug: string): string {
  if (!Number.isSafeInteger(pr) || pr < 1) {
    throw new InvalidBranchNameError(`pull request number ${pr} is not a positive integer`);
  }
  if (!SLUG.test(slug)) {
    throw new InvalidBranchNameError(`run slug '${slug}' is not kebab-case`);
  }
  return assertBranchName(`${WORK_BRANCH_PREFIX}${pr}-${slug}`);
}

/** The skill PR number and slug of a work branch; null for any other branch name. */
export function parseWorkBranch(name: string): { pr: number; slug: string } | null {
  if (!isValidBranchName(name) || !name.startsWith(WORK_BRANCH_PREFIX)) return null;
  const match = /^([1-9]\d{0,9})-(.+)$/.exec(name.slice(WORK_BRANCH_PREFIX.length));
  if (match === null) return null;
  const [, pr = '', slug = ''] = match;
  return SLUG.test(slug) ? { pr: Number(pr), slug } : null;
}
