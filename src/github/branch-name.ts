import { InvalidBranchNameError } from './errors.js';

/**
 * Why git would reject `branch` as a branch name, or why it could be read as something else (an
 * option, a revision range, a reflog expression); null when it is fine. Refused: `..`, `~`, `^`,
 * `:`, `?`, `*`, `[`, `\`, spaces, control characters, a leading `-` or `/`, `@{`, a lone `@`,
 * `//`, a segment starting with `.`, or an ending of `.lock`, `/` or `.`. The phrase reads after
 * the name ("… contains '..'"). The one implementation of these rules: src/routing/branch.ts adds
 * its stricter rules for names read from webhook payloads on top of it.
 */
export function branchNameProblem(branch: string): string | null {
  if (branch === '') return 'is empty';
  if (branch === '@') return "is the reserved name '@'";
  if (branch.length > 255) return 'is longer than 255 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse.
  if (/[\u0000-\u0020\u007f]/.test(branch)) return 'contains a space or a control character';
  if (/[~^:?*[\\]/.test(branch)) return 'contains one of ~ ^ : ? * [ \\';
  if (branch.includes('..')) return "contains '..'";
  if (branch.includes('@{')) return "contains '@{'";
  if (branch.startsWith('-')) return "starts with '-'";
  if (branch.startsWith('/') || branch.endsWith('/')) return "starts or ends with '/'";
  if (branch.includes('//')) return "contains '//'";
  if (branch.endsWith('.')) return "ends with '.'";
  for (const segment of branch.split('/')) {
    if (segment.startsWith('.')) return "has a component starting with '.'";
    if (segment.endsWith('.lock')) return "has a component ending in '.lock'";
  }
  return null;
}

/** Returns the name unchanged, or throws InvalidBranchNameError saying what is wrong with it. */
export function checkBranchName(branch: string): string {
  const problem = branchNameProblem(branch);
  if (problem !== null) {
    throw new InvalidBranchNameError(`'${branch}' cannot name a branch: it ${problem}`);
  }
  return branch;
}
