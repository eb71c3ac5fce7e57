import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSkill, parseSkillMarkdown } from '../../src/bench/skill.js';
import { InvalidFileError } from '../../src/errors.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/skills');

describe('loadSkill', () => {
  it('loads frontmatter, body and the other files, sorted and relative', async () => {
    const skill = await loadSkill(path.join(fixtures, 'csv-report'));
    expect(skill.dir).toBe(path.join(fixtures, 'csv-report'));
    expect(skill.name).toBe('csv-report');
    expect(skill.description).toBe(
      'Summarise CSV files into a short markdown report with column totals.',
    );
    expect(skill.frontmatter).toEqual({
      name: 'csv-report',
      description: skill.description,
      license: 'MIT',
      'allowed-tools': ['Read', 'Bash'],
    });
    expect(skill.body.startsWith('# CSV report\n')).toBe(true);
    expect(skill.raw.startsWith('---\nname: csv-report')).toBe(true);
    expect(skill.files).toEqual(['reference.md', 'scripts/sum.sh']);
  });

  it('names the missing SKILL.md', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skill-test-'));
    cleanup.push(dir);
    const error = await loadSkill(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toBe(
      `${path.join(dir, 'SKILL.md')}: SKILL.md is missing: a skill folder needs one`,
    );
  });

  it('rejects a SKILL.md without a frontmatter block', async () => {
    const file = path.join(fixtures, 'no-frontmatter', 'SKILL.md');
    await expect(loadSkill(path.join(fixtures, 'no-frontmatter'))).rejects.toThrow(
      `${file}: no frontmatter block`,
    );
  });

  it('names the missing description field', async () => {
    const file = path.join(fixtures, 'missing-description', 'SKILL.md');
    await expect(loadSkill(path.join(fixtures, 'missing-description'))).rejects.toThrow(
      `${file}: description: is required (line 2)`,
    );
  });
});

const cleanup: string[] = [];
afterEach(async () => {
  for (const dir of cleanup.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('parseSkillMarkdown', () => {
  const parse = (text: string) => parseSkillMarkdown(text, 'x/SKILL.md');
  const failure = (text: string) => {
    try {
      parse(text);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidFileError);
      return (error as Error).message;
    }
    throw new Error('expected an error');
  };

  it('accepts CRLF line ends and a closing `...` line, and trims name and description', () => {
    const skill = parse('---\r\nname: " a "\r\ndescription: b\r\n...\r\nbody\r\n');
    expect(skill).toMatchObject({ name: 'a', description: 'b', body: 'body\r\n' });
  });

  it('keeps a `---` further down in the body', () => {
    expect(parse('---\nname: a\ndescription: b\n---\nx\n---\ny\n').body).toBe('x\n---\ny\n');
  });

  it('reports invalid YAML with its line in the file', () => {
    expect(failure('---\nname: a\ndescription: [b\n---\n')).toMatch(
      /^x\/SKILL\.md: invalid YAML at line \d+: /,
    );
    expect(failure('---\nname: a\nname: b\ndescription: c\n---\n')).toMatch(
      /^x\/SKILL\.md: invalid YAML at line 3: Map keys must be unique/,
    );
  });

  it('rejects custom and non-core tags instead of resolving them', () => {
    expect(failure('---\nname: a\ndescription: !evil b\n---\n')).toContain(
      'invalid YAML at line 3: Unresolved tag: !evil',
    );
    expect(failure('---\nname: a\ndescription: b\nblob: !!binary aGk=\n---\n')).toContain(
      'invalid YAML at line 4: Unresolved tag',
    );
  });

  it('names missing, empty and mistyped fields', () => {
    expect(failure('---\ndescription: b\n---\n')).toBe('x/SKILL.md: name: is required (line 2)');
    expect(failure('---\nname: "  "\ndescription: b\n---\n')).toBe(
      'x/SKILL.md: name: must not be empty (line 2)',
    );
    expect(failure('---\nname: a\ndescription: 42\n---\n')).toBe(
      'x/SKILL.md: description: expected description to be a string (line 3)',
    );
    expect(failure('---\n- a\n---\n')).toMatch(
      /^x\/SKILL\.md: the frontmatter must be a YAML mapping/,
    );
    expect(failure('---\n---\n')).toMatch(/^x\/SKILL\.md: the frontmatter must be a YAML mapping/);
  });

  it('requires the frontmatter at the very start', () => {
    expect(failure('\n---\nname: a\ndescription: b\n---\n')).toMatch(
      /^x\/SKILL\.md: no frontmatter block/,
    );
    expect(failure('---\nname: a\ndescription: b\n')).toMatch(
      /^x\/SKILL\.md: no frontmatter block/,
    );
  });
});

describe('parseSkillMarkdown resource limits', () => {
  it('refuses YAML alias bombs', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(
        `${name}: &${name} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`,
      );
    }
    const text = `---\nname: a\ndescription: b\n${levels.join('\n')}\n---\n`;
    expect(() => parseSkillMarkdown(text, 'x/SKILL.md')).toThrow(/^x\/SKILL\.md: invalid YAML: /);
  });
});
