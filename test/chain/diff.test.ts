import { describe, expect, it } from 'vitest';
import {
  applyUnifiedDiff,
  changedFiles,
  DiffDoesNotApplyError,
  extractDiff,
  renderDiffFence,
} from '../../src/chain/diff.js';

const skill = [
  { path: 'SKILL.md', content: '---\nname: demo\ndescription: Demo.\n---\n\nline one\nline two\n' },
  { path: 'reference/old.md', content: 'old reference\n' },
];

const editSkill = [
  '--- a/SKILL.md',
  '+++ b/SKILL.md',
  '@@ -5,3 +5,4 @@',
  ' ',
  ' line one',
  '-line two',
  '+line two, sharper',
  '+line three',
  '',
].join('\n');

describe('applyUnifiedDiff', () => {
  it('applies an edit and leaves other files as they were', async () => {
    const after = await applyUnifiedDiff(skill, editSkill);
    expect(after.map((f) => f.path)).toEqual(['SKILL.md', 'reference/old.md']);
    expect(after[0]?.content).toBe(
      '---\nname: demo\ndescription: Demo.\n---\n\nline one\nline two, sharper\nline three\n',
    );
    expect(after[1]?.content).toBe('old reference\n');
  });

  it('creates new files and deletes removed ones', async () => {
    const diff = [
      '--- /dev/null',
      '+++ b/reference/new.md',
      '@@ -0,0 +1,2 @@',
      '+# New',
      '+fresh',
      '--- a/reference/old.md',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-old reference',
    ].join('\n'); // no trailing newline: the operator adds it
    const after = await applyUnifiedDiff(skill, diff);
    expect(after.map((f) => f.path)).toEqual(['SKILL.md', 'reference/new.md']);
    expect(after[1]?.content).toBe('# New\nfresh\n');
    expect(changedFiles(skill, after)).toEqual({
      written: [{ path: 'reference/new.md', content: '# New\nfresh\n' }],
      deleted: ['reference/old.md'],
    });
  });

  it('accepts git-style headers and bare paths', async () => {
    const gitStyle = `diff --git a/SKILL.md b/SKILL.md\nindex 1111111..2222222 100644\n${editSkill}`;
    expect((await applyUnifiedDiff(skill, gitStyle))[0]?.content).toContain('line three');
    const bare = editSkill.replace('--- a/SKILL.md', '--- SKILL.md').replace('+++ b/', '+++ ');
    expect((await applyUnifiedDiff(skill, bare))[0]?.content).toContain('line three');
  });

  it("refuses a diff whose context does not match, with git's reason", async () => {
    const stale = editSkill.replace(' line one', ' line zero');
    const error = await applyUnifiedDiff(skill, stale).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiffDoesNotApplyError);
    expect((error as Error).message).toMatch(/does not apply cleanly: .*SKILL\.md/);
  });

  it('applies all or nothing when one file of several fails', async () => {
    const diff = `${editSkill}--- a/missing.md\n+++ b/missing.md\n@@ -1 +1 @@\n-a\n+b\n`;
    await expect(applyUnifiedDiff(skill, diff)).rejects.toThrow(DiffDoesNotApplyError);
  });

  it.each([
    ['a parent folder', '--- a/../outside.md\n+++ b/../outside.md\n@@ -0,0 +1 @@\n+x\n'],
    ['an absolute path', '--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n'],
    ['a .git folder', '--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n'],
  ])('refuses paths outside the skill folder: %s', async (_what, diff) => {
    const error = await applyUnifiedDiff(skill, diff).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiffDoesNotApplyError);
    expect((error as Error).message).toMatch(/outside the skill folder/);
  });

  it('refuses symbolic links and binary patches', async () => {
    const link =
      'diff --git a/evil b/evil\nnew file mode 120000\n--- /dev/null\n+++ b/evil\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n';
    await expect(applyUnifiedDiff(skill, link)).rejects.toThrow(/symbolic link/);
    const binary =
      'diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 1\nIcmZpc00001\n\nliteral 0\nHcmV?d00001\n';
    await expect(applyUnifiedDiff(skill, binary)).rejects.toThrow(/binary file/);
  });

  it('refuses an empty diff and text that is no diff', async () => {
    await expect(applyUnifiedDiff(skill, '  \n')).rejects.toThrow(/empty/);
    await expect(applyUnifiedDiff(skill, 'just some prose\n')).rejects.toThrow(
      DiffDoesNotApplyError,
    );
  });
});

describe('extractDiff', () => {
  it('gets the diff back out of a proposal body, keeping fenced code inside it', () => {
    const diff = '--- a/SKILL.md\n+++ b/SKILL.md\n@@ -1 +1,3 @@\n-x\n+```bash\n+y\n+```\n';
    const body = `# Proposal\n\nRationale quoting an example:\n\n\`\`\`diff\nfake\n\`\`\`\n\n## Diff\n\n${renderDiffFence(diff)}\n\nfooter`;
    expect(extractDiff(body)).toBe(diff);
  });

  it('returns null without a diff fence', () => {
    expect(extractDiff('# Proposal\n\nno diff here\n')).toBeNull();
    expect(extractDiff('```diff\n--- a/x\n')).toBeNull();
  });
});
