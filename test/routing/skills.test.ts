import { describe, expect, it } from 'vitest';
import { changedSkillFolders, detectSkills, manifestCandidates } from '../../src/routing/skills.js';

const opts = { runDir: '.skill-optimizer', runLabel: 'skill-optimizer' };
const manifests = [
  'skills/pdf/SKILL.md',
  'skills/pdf/forms/SKILL.md',
  'skills/docx/SKILL.md',
  'README.md',
];

describe('skill detection', () => {
  it.each<[string[], string[]]>([
    [['skills/pdf/SKILL.md'], ['skills/pdf']],
    [['skills/pdf/reference/tables.md'], ['skills/pdf']],
    [['skills/pdf/forms/fill.py'], ['skills/pdf/forms']],
    [
      ['skills/pdf/forms/SKILL.md', 'skills/pdf/scripts/x.py'],
      ['skills/pdf', 'skills/pdf/forms'],
    ],
    [
      ['skills/docx/a.md', 'skills/pdf/b.md', 'skills/docx/c.md'],
      ['skills/docx', 'skills/pdf'],
    ],
    [['README.md', 'src/index.ts', 'skills/README.md'], []],
    [
      ['.skill-optimizer/pdf/vendored-skill/SKILL.md', '.skill-optimizer/pdf/01-functionality.md'],
      [],
    ],
    [['skills/pdfx/SKILL.md'], []],
    [['../skills/pdf/x', '/skills/pdf/x', ''], []],
  ])('%j → %j', (changed, expected) => {
    expect(changedSkillFolders(changed, manifests, opts)).toEqual(expected);
  });

  it('a SKILL.md at the repository root makes the root (.) the skill', () => {
    expect(
      changedSkillFolders(['notes/a.md', 'skills/pdf/x.md'], ['SKILL.md', ...manifests], opts),
    ).toEqual(['.', 'skills/pdf']);
  });

  it('lists the SKILL.md paths to look for, deepest folders included, run dir excluded', () => {
    expect(
      manifestCandidates(['skills/pdf/forms/fill.py', '.skill-optimizer/x/SKILL.md'], opts),
    ).toEqual(['SKILL.md', 'skills/SKILL.md', 'skills/pdf/SKILL.md', 'skills/pdf/forms/SKILL.md']);
  });

  it('says clearly when no skill was changed', () => {
    const none = detectSkills(['README.md'], manifests, opts);
    expect(none.kind).toBe('none');
    if (none.kind === 'none') {
      expect(none.message).toMatch(/found no skill in this pull request/);
      expect(none.message).toMatch(/`SKILL\.md`/);
      expect(none.message).toMatch(/`skill-optimizer` label/);
    }
    expect(detectSkills(['skills/pdf/x.md'], manifests, opts)).toEqual({
      kind: 'found',
      skills: ['skills/pdf'],
    });
  });
});
