import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readResults } from '../../src/bench/results.js';

/**
 * `bench --record` with the real Claude Code agent: its calls reach the API through the model
 * gateway, which forwards to the recording proxy; the replay must drive the agent the same way,
 * into the replay's own (fresh) trial workspace.
 */

const REPO = path.resolve('.');
const SUITE = 'test/fixtures/bench-bad/claude-code.yml';
const SCRIPT = 'test/fixtures/bench-bad/claude-code-script.yml';
const root = mkdtempSync(path.join(tmpdir(), 'so-record-cc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[], key: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO,
      env: { ...env, ANTHROPIC_API_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

const resultsDir = (out: string) => path.dirname(/^results: (.+)$/m.exec(out)?.[1] ?? '');

describe('bench --record with the claude-code runner', () => {
  it('records the agent and replays it into a fresh workspace', async () => {
    const recording = path.join(root, 'cc.yml');
    const key = 'sk-ant-api03-record-test-key-0123456789';
    const recorded = await cli(
      ['bench', SUITE, '--scripted', SCRIPT, '--out', path.join(root, 'a'), '--record', recording],
      key,
    );
    expect(recorded.code).toBe(0);
    expect(recorded.out).toMatch(/recorded 3 model exchanges to /);
    expect(readFileSync(recording, 'utf8')).not.toContain(key);

    const replayed = await cli(
      ['bench', SUITE, '--scripted', recording, '--out', path.join(root, 'b')],
      '',
    );
    expect(replayed.code).toBe(0);
    const [before] = await readResults(resultsDir(recorded.out));
    const [after] = await readResults(resultsDir(replayed.out));
    expect(before).toMatchObject({
      status: 'pass',
      finalMessage: 'Created hello.txt with a greeting.',
    });
    expect(after).toMatchObject({
      status: before?.status,
      finalMessage: before?.finalMessage,
      grader: before?.grader,
      usage: before?.usage,
    });
  }, 120_000);
});
