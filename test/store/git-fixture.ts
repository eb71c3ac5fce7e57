import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * Real git in temp dirs, isolated from the machine's git configuration: no system config, a
 * temp HOME and global config with a user identity. Registers its own beforeAll/afterAll.
 */
export function useGitSandbox(): { readonly base: string } {
  const state = { base: '' };
  const saved: Record<string, string | undefined> = {};
  const vars = [
    'HOME',
    'GIT_CONFIG_NOSYSTEM',
    'GIT_CONFIG_GLOBAL',
    'GIT_AUTHOR_DATE',
    'GIT_COMMITTER_DATE',
  ];
  beforeAll(async () => {
    state.base = await mkdtemp(join(tmpdir(), 'so-store-'));
    for (const name of vars) saved[name] = process.env[name];
    const home = join(state.base, 'home');
    await mkdir(home);
    const config = join(home, '.gitconfig');
    await writeFile(
      config,
      '[user]\n\tname = Human Dev\n\temail = human@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
    );
    process.env.HOME = home;
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    process.env.GIT_CONFIG_GLOBAL = config;
    delete process.env.GIT_AUTHOR_DATE;
    delete process.env.GIT_COMMITTER_DATE;
  });
  afterAll(async () => {
    for (const name of vars) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await rm(state.base, { recursive: true, force: true });
  });
  return state;
}

/** Runs git for the test itself (independent of the code under test); returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

let counter = 0;

/** A fresh repository with `files` committed on `main` (none: an empty repository). */
export async function makeRepo(
  base: string,
  files: Record<string, string> = { 'README.md': '# demo\n' },
): Promise<string> {
  counter += 1;
  const dir = join(base, `repo-${counter}`);
  await mkdir(dir, { recursive: true });
  git(dir, 'init', '--quiet');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  if (Object.keys(files).length > 0) {
    git(dir, 'add', '-A');
    git(dir, 'commit', '--quiet', '-m', 'initial');
  }
  return dir;
}
