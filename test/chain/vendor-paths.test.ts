import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localSkillSource, openRun } from '../../src/chain/start.js';
import { PathEscapeError } from '../../src/errors.js';
import { confinedFolder } from '../../src/store/confined-folder.js';
import { git, makeRepo, useGitSandbox } from '../store/git-fixture.js';

/** Vendoring judges real paths: nothing outside the repository gets in, however it is linked. */

const sandbox = useGitSandbox();

const skillMd = (name: string, extra = '') =>
  `---\nname: ${name}\ndescription: Keeps changelogs.\n${extra}---\n\nBody of ${name}.\n`;

let outsideCount = 0;

/** A skill folder outside every repository, holding a secret a run must never vendor. */
async function outsideSkill(): Promise<string> {
  outsideCount += 1;
  const dir = join(sandbox.base, `outside-${outsideCount}`, 'private-skill');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'SKILL.md'), skillMd('private-skill'));
  await writeFile(join(dir, 'secret.txt'), 'OUTSIDE-SECRET\n');
  return dir;
}

/** Commits a symlink at `path` (relative to the repo) pointing to `target`. */
async function commitLink(repo: string, path: string, target: string): Promise<void> {
  await mkdir(join(repo, path, '..'), { recursive: true });
  await symlink(target, join(repo, path));
  git(repo, 'add', '-A');
  git(repo, 'commit', '--quiet', '-m', `link ${path}`);
  expect(git(repo, 'ls-files', '-s', path).split(' ')[0]).toBe('120000');
}

function startIn(repo: string, skillDir: string) {
  return openRun({
    cwd: repo,
    skillDir,
    runRoot: '.skill-optimizer',
    autopilot: false,
    actor: 'tester',
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
}

describe('re-vendoring a wrapper target', () => {
  it("refuses a wrapper's source: reached through a committed symlink to an outside folder", async () => {
    const outside = await outsideSkill();
    const repo = await makeRepo(sandbox.base, {
      'skills/wrapper/SKILL.md': skillMd('wrapper', 'source: ../shared/private-skill\n'),
    });
    await commitLink(repo, 'skills/shared', join(outside, '..'));
    // What the driver computes from skills/wrapper + `../shared/private-skill`:
    const read = localSkillSource(repo).read('skills/shared/private-skill', 'vendored-skill');
    await expect(read).rejects.toBeInstanceOf(PathEscapeError);
    await expect(read).rejects.toThrow(
      /^skills\/shared\/private-skill resolves to .*outside-\d+\/private-skill, outside the repository at /,
    );
  });

  it('refuses a target that `..` takes out of the repository', async () => {
    const outside = await outsideSkill();
    const repo = await makeRepo(sandbox.base, {
      'skills/wrapper/SKILL.md': skillMd('wrapper', 'source: ../../../x\n'),
    });
    const up = join('..', outside.slice(sandbox.base.length + 1));
    const read = localSkillSource(repo).read(up, 'vendored-skill');
    await expect(read).rejects.toBeInstanceOf(PathEscapeError);
    await expect(read).rejects.toThrow(`${up} resolves to`);
  });

  it('still vendors a target inside the repository, also through an inside symlink', async () => {
    const repo = await makeRepo(sandbox.base, {
      'skills/real-skill/SKILL.md': skillMd('real-skill'),
      'skills/real-skill/notes.md': 'notes\n',
    });
    await commitLink(repo, 'skills/alias', 'real-skill');
    const changes = await localSkillSource(repo).read('skills/alias', 'vendored-skill');
    expect(changes.map((c) => c.path)).toEqual([
      'vendored-skill/SKILL.md',
      'vendored-skill/notes.md',
    ]);
  });
});

describe('starting a run', () => {
  it('refuses a skill folder that is a committed symlink to an outside folder', async () => {
    const outside = await outsideSkill();
    const repo = await makeRepo(sandbox.base, { 'README.md': '# demo\n' });
    await commitLink(repo, 'skills/evil', outside);
    const start = startIn(repo, 'skills/evil');
    await expect(start).rejects.toBeInstanceOf(PathEscapeError);
    await expect(start).rejects.toThrow(/^.*skills\/evil resolves to .*private-skill, outside/);
    expect(git(repo, 'branch', '--list', 'skill-optimizer/*')).toBe('');
  });

  it('refuses a committed symlink inside the skill folder that points outside', async () => {
    const outside = await outsideSkill();
    const repo = await makeRepo(sandbox.base, { 'skills/kac/SKILL.md': skillMd('kac') });
    await commitLink(repo, 'skills/kac/reference.md', join(outside, 'secret.txt'));
    const start = startIn(repo, 'skills/kac');
    await expect(start).rejects.toBeInstanceOf(PathEscapeError);
    await expect(start).rejects.toThrow('skills/kac/reference.md is a symlink to');
  });

  it('vendors an ordinary skill folder', async () => {
    const repo = await makeRepo(sandbox.base, { 'skills/kac/SKILL.md': skillMd('kac') });
    const run = await startIn(repo, 'skills/kac');
    try {
      expect(run.skillPath).toBe('skills/kac');
      expect(await run.store.read('vendored-skill/SKILL.md')).toBe(skillMd('kac'));
    } finally {
      await run.store.close();
    }
  });
});

describe('confinedFolder', () => {
  it('returns the real path inside the root and names a missing folder', async () => {
    const repo = await makeRepo(sandbox.base, { 'a/b/x.md': 'x' });
    const found = await confinedFolder(repo, 'a/./b');
    expect(found.path).toBe('a/b');
    expect((await confinedFolder(repo, '.')).path).toBe('.');
    await expect(confinedFolder(repo, 'a/none')).rejects.toThrow('a/none: does not exist');
  });
});
