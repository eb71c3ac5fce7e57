import { InvalidBranchNameError } from './errors.js';

/**
 * Refuses a branch name git would reject or that could be read as something else (an option, a
 * revision range, a reflog expression): `..`, `~`, `^`, `:`, `?`, `*`, `[`, `\`, spaces, control
 * characters, a leading `-` or `/`, `@{`, a lone `@`, `//`, a segment starting with `.`, or an
 * ending of `.lock`, `/` or `.`. Returns the name unchanged.
 */
export function checkBranchName(branch: string): string {
  const refuse = (why: string): never => {
    throw new InvalidBranchNameError(`'${branch}' cannot name a branch: ${why}`);
  };
  if (branch === '' || branch === '@') refuse('it is empty or a lone @');
  if (branch.length > 255) refuse('it is longer than 255 characters');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse.
  if (/[\u0000-\u0020\u007f]/.test(branch)) refuse('it contains a space or a control character');
  if (/[~^:?*[\\]/.test(branch)) refuse('it contains one of ~ ^ : ? * [ \\');
  if (branch.includes('..')) refuse("it contains '..'");
  if (branch.includes('@{')) refuse("it contains '@{'");
  if (branch.startsWith('-')) refuse("it starts with '-'");
  if (branch.startsWith('/') || branch.endsWith('/') || branch.includes('//')) {
    refuse("it starts or ends with '/' or has an empty segment");
  }
  if (branch.endsWith('.')) refuse("it ends with '.'");
  for (const segment of branch.split('/')) {
    if (segment.startsWith('.')) refuse("a segment starts with '.'");
    if (segment.endsWith('.lock')) refuse("a segment ends with '.lock'");
  }
  return branch;
}
