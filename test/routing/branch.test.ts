import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBranchName } from '../../src/github/branch-name.js';
import { InvalidBranchNameError as GitHubInvalidBranchNameError } from '../../src/github/errors.js';
import {
  assertBranchName,
  branchNameProblem,
  InvalidBranchNameError,
  isValidBranchName,
  parseWorkBranch,
  workBranchName,
} from '../../src/routing/branch.js';

describe('work branches', () => {
  it('names the work branch skill-optimizer/<pr>-<slug> and reads it back', () => {
    expect(workBranchName(42, 'keep-a-changelog')).toBe('skill-optimizer/42-keep-a-changelog');
    expect(parseWorkBranch('skill-optimizer/42-keep-a-changelog')).toEqual({
      pr: 42,
      slug: 'keep-a-changelog',
    });
  });

  it('refuses bad parts', () => {
    expect(() => workBranchName(0, 'pdf')).toThrow(InvalidBranchNameError);
    expect(() => workBranchName(1.5, 'pdf')).toThrow(InvalidBranchNameError);
    expect(() => workBranchName(3, 'Bad Slug')).toThrow(/not kebab-case/);
    expect(() => workBranchName(3, '../x')).toThrow(InvalidBranchNameError);
  });

  it.each([
    'main',
    'feature/x',
    'skill-optimizer/x',
    'skill-optimizer/0-pdf',
    'skill-optimizer/7-',
    'skill-optimizer/7-PDF',
    'skill-optimizer/7-a..b',
    'refs/heads/skill-optimizer/7-pdf',
  ])('%s is not a work branch', (name) => {
    expect(parseWorkBranch(name)).toBeNull();
  });
});

describe('branch names from payloads', () => {
  it.each([
    ['a..b', /'\.\.'/],
    ['-x', /starts with '-'/],
    ['--upload-pack=evil', /starts with '-'/],
    ['has space', /space/],
    ['tab\there', /control/],
    ['new\nline', /control/],
    ['nul\0', /control/],
    ['a~1', /~/],
    ['a^{}', /\^/],
    ['a:b', /:/],
    ['a?b', /\?/],
    ['a*b', /\*/],
    ['a[b', /\[/],
    ['a\\b', /\\/],
    ['a@{1}', /'@\{'/],
    ['@', /reserved/],
    ['HEAD', /reserved/],
    ['refs/heads/main', /full ref/],
    ['/lead', /'\/'/],
    ['trail/', /'\/'/],
    ['a//b', /'\/\/'/],
    ['a/.hidden', /starting with '\.'/],
    ['.dot', /starting with '\.'/],
    ['x.lock', /\.lock/],
    ['a/b.lock/c', /\.lock/],
    ['ends.', /ends with '\.'/],
    ['caf\u00e9', /printable ASCII/],
    ['bidi\u202Eevil', /printable ASCII/],
    ['', /empty/],
    ['a'.repeat(256), /longer than 255/],
  ])('%j is rejected', (name, reason) => {
    expect(branchNameProblem(name)).toMatch(reason);
    expect(() => assertBranchName(name)).toThrow(InvalidBranchNameError);
  });

  it.each([
    'main',
    'feature/new-thing',
    'skill-optimizer/12-pdf',
    'release-1.2',
    'user@host',
    'a_b+c',
  ])('%j is accepted', (name) => {
    expect(assertBranchName(name)).toBe(name);
  });

  it('accepts nothing git would refuse (property, checked against git check-ref-format)', () => {
    const chars = fc.constantFrom(...'ab-./@{}~^:?*[\\ .lock\tZ09_'.split(''));
    const names = fc.array(chars, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(''));
    const samples = fc.sample(names, { numRuns: 300, seed: 42 }).filter(isValidBranchName);
    expect(samples.length).toBeGreaterThan(10);
    for (const name of samples) {
      expect(() =>
        execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'pipe' }),
      ).not.toThrow();
    }
  });

  it('is git’s check (src/github) plus stricter rules: one error type, a subset of its names', () => {
    expect(InvalidBranchNameError).toBe(GitHubInvalidBranchNameError);
    for (const name of ['HEAD', 'refs/heads/main', 'caf\u00e9']) {
      expect(checkBranchName(name)).toBe(name);
      expect(() => assertBranchName(name)).toThrow(GitHubInvalidBranchNameError);
    }
    const chars = fc.constantFrom(...'aH-./@{}~^:?*[\\ \u00e9\tZ'.split(''), 'refs/', 'HEAD');
    const names = fc.array(chars, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));
    for (const name of fc.sample(names, { numRuns: 300, seed: 7 })) {
      if (isValidBranchName(name)) expect(checkBranchName(name)).toBe(name);
    }
  });
});
