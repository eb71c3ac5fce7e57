import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyUnifiedDiff, type SkillFile, unifiedDiff } from '../../src/chain/diff.js';
import {
  applyEdits,
  EditsDoNotApplyError,
  editProblems,
  type SkillEdit,
} from '../../src/chain/edits.js';

const skill: SkillFile[] = [
  {
    path: 'SKILL.md',
    content: '---\nname: demo\ndescription: Demo.\n---\n\n- step\n- step\n\nline one\nline two\n',
  },
  { path: 'reference/old.md', content: 'old reference\n' },
];

describe('applyEdits', () => {
  it('replaces exact text, writes whole files, and keeps the rest', () => {
    const after = applyEdits(skill, [
      {
        path: 'SKILL.md',
        replace: [
          { old: 'line two\n', new: 'line two, sharper\n' },
          { old: 'sharper', new: 'much sharper' },
        ],
      },
      { path: 'reference/new.md', content: 'new reference\n' },
    ]);
    expect(after).toEqual([
      { path: 'SKILL.md', content: expect.stringContaining('line one\nline two, much sharper\n') },
      { path: 'reference/new.md', content: 'new reference\n' },
      { path: 'reference/old.md', content: 'old reference\n' },
    ]);
  });

  it('names an old text that is off by one character, and the line that is not in the file', () => {
    const edits: SkillEdit[] = [{ path: 'SKILL.md', replace: [{ old: 'line  one\n', new: 'x' }] }];
    expect(editProblems(skill, edits)).toEqual([
      'edit 1 (SKILL.md), replacement 1: the old text "line  one\\n" was not found (the line "line  one" does not occur in the file); copy it exactly from the current file, whitespace included',
    ]);
    expect(() => applyEdits(skill, edits)).toThrow(EditsDoNotApplyError);
  });

  it('names a match that is not unique, with its lines', () => {
    expect(
      editProblems(skill, [{ path: 'SKILL.md', replace: [{ old: '- step', new: '' }] }]),
    ).toEqual([
      'edit 1 (SKILL.md), replacement 1: the old text "- step" occurs 2 times (lines 6, 7); include more of the surrounding text so it occurs exactly once',
    ]);
  });

  it('refuses paths outside the skill, missing files and a file edited twice', () => {
    expect(
      editProblems(skill, [
        { path: '../x.md', content: 'x' },
        { path: 'nope.md', replace: [{ old: 'a', new: 'b' }] },
        { path: 'reference/old.md', content: 'a\n' },
        { path: './reference/old.md', content: 'b\n' },
      ]),
    ).toEqual([
      "edit 1: '../x.md' is not a path inside the skill folder: it contains '..'",
      'edit 2 (nope.md): the skill has no text file nope.md; give `content` to create it',
      'edit 4 (reference/old.md): reference/old.md is edited twice; put all its changes in one edit',
    ]);
  });

  it('refuses an edit of a binary file of the skill', () => {
    const binary = new Set(['assets/logo.png']);
    expect(editProblems(skill, [{ path: 'assets/logo.png', content: 'x' }], { binary })).toEqual([
      'edit 1 (assets/logo.png): assets/logo.png is a binary file; only text files can be edited',
    ]);
  });
});

describe('unifiedDiff', () => {
  it('gives a diff that git applies back to the same files, new files included', async () => {
    const after = applyEdits(skill, [
      {
        path: 'SKILL.md',
        replace: [{ old: 'line one\n', new: 'line one\nline one and a half\n' }],
      },
      { path: 'reference/new.md', content: 'no final newline' },
    ]);
    const diff = await unifiedDiff(skill, after);
    expect(diff).toContain('--- a/SKILL.md\n+++ b/SKILL.md\n');
    expect(diff).toContain('+line one and a half\n');
    expect(diff).toContain('--- /dev/null\n+++ b/reference/new.md\n');
    expect(await applyUnifiedDiff(skill, diff)).toEqual(after);
  });

  it('round-trips any replacement of a unique line (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^[a-z ]{0,12}$/), { minLength: 1, maxLength: 8 }),
        fc.stringMatching(/^[a-z \n]{0,30}$/),
        async (lines, added) => {
          const before = [{ path: 'SKILL.md', content: `UNIQUE\n${lines.join('\n')}\n` }];
          const after = applyEdits(before, [
            { path: 'SKILL.md', replace: [{ old: 'UNIQUE\n', new: added }] },
          ]);
          if (after[0]?.content === before[0]?.content) return;
          expect(await applyUnifiedDiff(before, await unifiedDiff(before, after))).toEqual(after);
        },
      ),
      { numRuns: 15 },
    );
  });
});
