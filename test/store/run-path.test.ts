import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PathEscapeError } from '../../src/errors.js';
import { checkSlug, inRunDir, normalizeRelativePath } from '../../src/store/run-path.js';

describe('normalizeRelativePath', () => {
  it('normalises harmless paths', () => {
    expect(normalizeRelativePath('a/./b//c/', 'run')).toBe('a/b/c');
    expect(normalizeRelativePath('.', 'run', { allowBase: true })).toBe('');
    expect(normalizeRelativePath('tests/a..b/x', 'run')).toBe('tests/a..b/x');
  });

  it.each([
    '../x',
    'a/../../x',
    '/etc/passwd',
    'C:/x',
    'a\\..\\x',
    'a/.git/config',
    '.GIT',
    'a\nb',
    '',
    '.',
  ])('refuses %j', (path) => {
    expect(() => normalizeRelativePath(path, 'run')).toThrow(PathEscapeError);
  });

  it('never yields a path that leaves its base', () => {
    const segment = fc.constantFrom('..', '.', '', 'a', 'b.md', '.git', 'x\\y', '/', 'c:');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
        const path = parts.join('/');
        let out: string;
        try {
          out = normalizeRelativePath(path, 'run', { allowBase: true });
        } catch (error) {
          expect(error).toBeInstanceOf(PathEscapeError);
          return;
        }
        expect(out.startsWith('/')).toBe(false);
        expect(out.split('/')).not.toContain('..');
        expect(out.split('/')).not.toContain('.');
        expect(out.includes('\\')).toBe(false);
        expect(out.split('/').map((s) => s.toLowerCase())).not.toContain('.git');
      }),
    );
  });
});

describe('checkSlug and inRunDir', () => {
  it('accepts skill names and refuses path-like slugs', () => {
    expect(checkSlug('keep-a-changelog')).toBe('keep-a-changelog');
    for (const bad of ['', '..', 'a/b', '-x', 'a..b', 'x.lock', '.hidden', 'a b']) {
      expect(() => checkSlug(bad)).toThrow(/cannot name a run/);
    }
  });

  it('joins run-dir paths', () => {
    expect(inRunDir('.skill-optimizer/x', '')).toBe('.skill-optimizer/x');
    expect(inRunDir('.skill-optimizer/x', 'a/b')).toBe('.skill-optimizer/x/a/b');
  });
});
