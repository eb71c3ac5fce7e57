import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScript } from '../../src/model/scripted/script.js';
import { ROOT } from '../fixtures/chain/harness.js';

/**
 * `--record` round trip: the demo run against the scripted server (standing in for the real API)
 * is recorded, then replayed with `--scripted <recording>`; both work branches must hold the same
 * step reports and results, though four trials run at once and arrive in any order.
 */

const base = mkdtempSync(join(tmpdir(), 'so-record-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function env(): NodeJS.ProcessEnv {
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, '.gitconfig'),
    '[user]\n\tname = Demo Runner\n\temail = d@example.com\n',
  );
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: join(home, '.gitconfig'),
    LANG: 'C.UTF-8',
  };
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const demo = (dir: string, ...flags: string[]) =>
  run(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--dir', dir, ...flags],
    ROOT,
  );

async function git(dir: string, ...args: string[]): Promise<string> {
  const { code, out } = await run('git', args, dir);
  if (code !== 0) throw new Error(`git ${args.join(' ')}: exit ${code}: ${out}`);
  return out;
}

const BRANCH = 'skill-optimizer/keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';

/** Commit hashes, times and the repository folder differ between two runs; nothing else may. */
const normalize = (text: string, dir: string) =>
  text
    .replaceAll(dir, '<repo>')
    .replace(/\b[0-9a-f]{7,40}\b/g, '<sha>')
    .replace(/\d{4}-\d\d-\d\dT[\d:.-]+Z/g, '<time>');

/** Every file of the run folder, bench folders named by order, each trial by its outcome. */
async function runFolder(dir: string): Promise<Record<string, string>> {
  const paths = (await git(dir, 'ls-tree', '-r', '--name-only', BRANCH, '--', RUN_DIR))
    .trim()
    .split('\n');
  const out: Record<string, string> = {};
  for (const path of paths) {
    const text = await git(dir, 'show', `${BRANCH}:${path}`);
    const name = normalize(path.slice(RUN_DIR.length + 1), dir);
    out[name] = path.endsWith('results.jsonl')
      ? text
          .trim()
          .split('\n')
          .map((line) => {
            const r = JSON.parse(line);
            return JSON.stringify([r.probe, r.trial, r.baseline, r.status, r.grader, r.usage]);
          })
          .join('\n')
      : normalize(text, dir);
  }
  return out;
}

describe('--record, then --scripted <recording>', () => {
  it('replays a recorded run offline onto the same work branch', async () => {
    const recording = join(base, 'recording.yml');
    const recorded = await demo(join(base, 'record', 'demo'), '--record', recording);
    expect(recorded.out).not.toMatch(/^error:/m);
    expect(recorded.code).toBe(0);
    expect(recorded.out).toMatch(/recorded \d+ model exchanges to .*recording\.yml/);
    const script = parseScript(readFileSync(recording, 'utf8'), recording);
    // every chain role and every trial turn: far more than one rule per step
    expect(script.rules.length).toBeGreaterThan(100);
    expect(script.rules.every((r) => r.when?.digest !== undefined && r.times === 1)).toBe(true);

    const replayed = await demo(join(base, 'replay', 'demo'), '--scripted', recording);
    expect(replayed.out).not.toMatch(/^error:/m);
    expect(replayed.code).toBe(0);
    expect(replayed.out).toContain('run done: pass rate');

    const before = await runFolder(join(base, 'record', 'demo'));
    const after = await runFolder(join(base, 'replay', 'demo'));
    expect(Object.keys(before)).toContain('report.md');
    expect(Object.keys(before)).toContain('09-validator-verdict.md');
    expect(after).toEqual(before);
  }, 240_000);

  it('refuses a --record file that is not a script before any model call, leaving it as it was', async () => {
    const bogus = join(base, 'bogus.yml');
    writeFileSync(bogus, 'not: a script\n');
    const dir = join(base, 'bogus', 'demo');
    const result = await demo(dir, '--record', bogus);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^error: .*bogus\.yml.*rules/ms);
    expect(result.out).not.toContain('01 functionality');
    expect(readFileSync(bogus, 'utf8')).toBe('not: a script\n');
  }, 120_000);
});
