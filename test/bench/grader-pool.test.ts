import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GradeInput } from '../../src/bench/grader.js';
import { createGraderPool, type GraderPool } from '../../src/bench/grader-pool.js';
import { createSandbox, type Sandbox } from '../../src/bench/sandbox/index.js';
import { holdParentSecret, type ParentSecret } from './sandbox/parent-secret.js';

const fixtures = fileURLToPath(new URL('../fixtures/graders/', import.meta.url));
const fixture = (name: string) => join(fixtures, `${name}.mjs`);

/** Graders written for these tests; each reports what it saw in `reasons`. */
const GRADERS: Record<string, string> = {
  // Module state and globals: a fresh worker per grade must see neither from an earlier grade.
  counter: `let calls = 0;
export default async function grade() {
  calls += 1;
  globalThis.seen = (globalThis.seen ?? 0) + 1;
  return { pass: calls === 1 && globalThis.seen === 1, reasons: [\`calls \${calls}, seen \${globalThis.seen}\`] };
}
`,
  // Reads every path it is given, plus its slot and /tmp; plants files for the next grade.
  peek: `import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
const attempt = async (path) => {
  try { return \`\${path}: \${(await readdir(path)).join(',')}\`; } catch (error) {
    if (error.code !== 'ENOTDIR') return \`\${path}: \${error.code}\`;
  }
  try { return \`\${path}: \${await readFile(path, 'utf8')}\`; } catch (error) { return \`\${path}: \${error.code}\`; }
};
export default async function grade({ workspaceDir, finalMessage }) {
  const { paths, plant } = JSON.parse(finalMessage);
  const seen = [];
  for (const path of [...paths, dirname(workspaceDir), '/tmp']) seen.push(await attempt(path));
  if (plant) {
    await writeFile(join(dirname(workspaceDir), 'planted-in-slot'), 'x');
    await writeFile('/tmp/planted-in-tmp', 'x');
    await writeFile(join(workspaceDir, 'mine.txt'), 'written by the grader');
  }
  return { pass: true, reasons: seen };
}
`,
  // Writes forged answers to the pool's channel (fd 1) in every shape it can, then fails.
  forger: `import { writeSync } from 'node:fs';
export default async function grade() {
  const reply = { outcome: JSON.stringify({ kind: 'returned', value: { pass: true, reasons: ['forged'] } }), failure: null, exitCode: 0, output: '', tainted: false };
  for (const marker of ['', '@@skill-optimizer-grader-result:00000000-0000-0000-0000-000000000000@@', '@@skill-optimizer-grader-result:']) {
    writeSync(1, '\\n' + marker + JSON.stringify(reply) + '\\n');
    writeSync(1, '\\n' + marker + JSON.stringify({ kind: 'returned', value: { pass: true, reasons: ['forged'] } }) + '\\n');
  }
  return { pass: false, reasons: ['the real verdict'] };
}
`,
  // Leaves a background process behind (detached, in its own session) and passes.
  daemon: `import { spawn } from 'node:child_process';
export default async function grade({ finalMessage }) {
  spawn('/bin/sh', ['-c', 'setsid sleep ' + finalMessage + ' & sleep ' + finalMessage], { detached: true, stdio: 'ignore' }).unref();
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { pass: true, reasons: ['left a sleeper'] };
}
`,
  // Kills its whole host.
  crash: `export default async function grade() {
  process.kill(process.pid, 'SIGKILL');
  await new Promise(() => {});
}
`,
  // Fills its workspace a megabyte at a time and waits to be stopped.
  filler: `import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
export default async function grade({ workspaceDir }) {
  for (let i = 0; i < 8; i++) await writeFile(join(workspaceDir, \`fill-\${i}\`), Buffer.alloc(1024 * 1024, 1));
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  return { pass: true, reasons: ['never stopped'] };
}
`,
  // Burns CPU in a synchronous loop forever.
  spin: `export default function grade() {
  for (;;) {}
}
`,
};

let sandbox: Sandbox;
let root: string;
let graderDir: string;
let secret: ParentSecret;
const pools: GraderPool[] = [];

const written = (name: string) => join(graderDir, `${name}.mjs`);

async function pool(size = 1, timeoutMs = 20_000, maxDiskMb?: number): Promise<GraderPool> {
  const created = await createGraderPool(sandbox, {
    graderPaths: [...Object.keys(GRADERS).map(written), fixture('answer-42'), fixture('snoop')],
    dependenciesDir: null,
    size,
    timeoutMs,
    ...(maxDiskMb === undefined ? {} : { maxDiskMb }),
  });
  pools.push(created);
  return created;
}

async function workspace(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(root, 'trial-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function input(graderPath: string, workspaceDir: string, finalMessage = ''): GradeInput {
  return { graderPath, workspaceDir, transcript: [], finalMessage };
}

async function reasonsOf(graders: GraderPool, request: GradeInput): Promise<string[]> {
  const outcome = await graders.grade(request);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.result.reasons;
}

/** Live processes whose command line holds `needle` (the sleepers a grader left behind). */
async function processesWith(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [cmdline, stat] = await Promise.all([
        readFile(`/proc/${name}/cmdline`, 'utf8'),
        readFile(`/proc/${name}/stat`, 'utf8'),
      ]);
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      if (cmdline.includes(needle) && !zombie && Number(name) !== process.pid)
        found.push(Number(name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!['ENOENT', 'ESRCH', 'EACCES', 'EPERM'].includes(code ?? '')) throw error;
    }
  }
  return found;
}

beforeAll(async () => {
  sandbox = await createSandbox(process.platform === 'linux' ? 'bubblewrap' : 'process', {
    secretInReach: false,
  });
  root = await realpath(await mkdtemp(join(tmpdir(), 'so-grader-pool-')));
  graderDir = join(root, 'graders');
  await mkdir(graderDir);
  for (const [name, text] of Object.entries(GRADERS)) await writeFile(written(name), text);
  secret = await holdParentSecret();
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await secret.cleanup();
  await rm(root, { recursive: true, force: true });
});

describe('grader pool', () => {
  it('grades many trials on one host, each in a fresh realm, and moves each workspace back', async () => {
    const graders = await pool();
    for (const answer of ['42', '7']) {
      const dir = await workspace({ 'answer.txt': `${answer}\n` });
      const outcome = await graders.grade(input(fixture('answer-42'), dir));
      expect(outcome).toEqual({
        ok: true,
        result: expect.objectContaining({ pass: answer === '42' }),
      });
      expect(await readFile(join(dir, 'answer.txt'), 'utf8')).toBe(`${answer}\n`);
    }
    for (let i = 0; i < 2; i++) {
      expect(await reasonsOf(graders, input(written('counter'), await workspace()))).toEqual([
        'calls 1, seen 1',
      ]);
    }
    expect(graders.hostsStarted).toBe(1);
  });

  it.runIf(process.platform === 'linux')(
    'shows a grade only its own workspace: not another trial, not what an earlier grade left',
    async () => {
      const graders = await pool(2);
      const mine = await workspace({ 'secret-of-a.txt': 'a' });
      const other = await workspace({ 'secret-of-b.txt': 'b' });
      const first = await reasonsOf(
        graders,
        input(written('peek'), mine, JSON.stringify({ paths: [other, root], plant: true })),
      );
      expect(first).toEqual([
        `${other}: ENOENT`,
        `${root}: graders`,
        expect.stringMatching(/: workspace$/),
        expect.not.stringContaining('secret-of'),
      ]);
      // The grader's own write stays in its workspace, which is back where the trial keeps it.
      expect(await readFile(join(mine, 'mine.txt'), 'utf8')).toBe('written by the grader');
      // Two grades at once on two hosts: neither sees the other's workspace or its slot.
      const [a, b] = await Promise.all([
        reasonsOf(graders, input(written('peek'), mine, JSON.stringify({ paths: [other] }))),
        reasonsOf(graders, input(written('peek'), other, JSON.stringify({ paths: [mine] }))),
      ]);
      for (const [seen, path] of [
        [a, other],
        [b, mine],
      ] as const) {
        expect(seen[0]).toBe(`${path}: ENOENT`);
        expect(seen[1]).toMatch(/: workspace$/);
        expect(seen[2]).toMatch(/^\/tmp: /);
        expect(seen.join('\n')).not.toContain('planted');
      }
      expect(graders.hostsStarted).toBe(2);
    },
  );

  it.runIf(process.platform === 'linux')(
    'keeps secrets out of reach of a long-lived host',
    async () => {
      const graders = await pool();
      const seen = await reasonsOf(
        graders,
        input(
          fixture('snoop'),
          await workspace(),
          JSON.stringify({
            secretFiles: secret.files,
            pids: [secret.holderPid, process.pid, process.ppid],
          }),
        ),
      );
      for (const file of secret.files) expect(seen.join('\n')).toContain(`${file}: ENOENT`);
      expect(seen.join('\n')).not.toContain(secret.value);
    },
  );

  it('cannot be fooled by forged answers on its channel', async () => {
    const graders = await pool();
    expect(await graders.grade(input(written('forger'), await workspace()))).toEqual({
      ok: true,
      result: { pass: false, reasons: ['the real verdict'] },
    });
  });

  it('kills a hung grade, fails only that trial, and grades the next on a fresh host', async () => {
    const graders = await pool(1, 1_500);
    const hung = await graders.grade(input(written('spin'), await workspace()));
    expect(hung).toEqual({
      ok: false,
      error: `grader ${written('spin')} timed out after 1.5s`,
    });
    const next = await graders.grade(
      input(fixture('answer-42'), await workspace({ 'answer.txt': '42\n' })),
    );
    expect(next.ok && next.result.pass).toBe(true);
    expect(graders.hostsStarted).toBe(2);
  });

  it('reports a grade that kills its host and restarts the host for the next', async () => {
    const graders = await pool();
    const trial = await workspace({ 'kept.txt': 'the agent wrote this' });
    const crashed = await graders.grade(input(written('crash'), trial));
    expect(await readFile(join(trial, 'kept.txt'), 'utf8')).toBe('the agent wrote this');
    expect(crashed).toEqual({
      ok: false,
      // bwrap reports its child's death by signal as 128 + the signal number.
      error: expect.stringMatching(
        /crash\.mjs exited (on signal SIGKILL|with code 137) without returning a result/,
      ),
    });
    const next = await graders.grade(
      input(fixture('answer-42'), await workspace({ 'answer.txt': '42\n' })),
    );
    expect(next.ok && next.result.pass).toBe(true);
    expect(graders.hostsStarted).toBe(2);
  });

  it('kills a host whose grade fills the workspace past the cap, and says so', async () => {
    const graders = await pool(1, 20_000, 4);
    const outcome = await graders.grade(input(written('filler'), await workspace()));
    expect(outcome).toEqual({
      ok: false,
      error: expect.stringMatching(
        /filler\.mjs exited .* without returning a result.*sandbox: killed: the trial folder grew past 4 MB/s,
      ),
    });
    const next = await graders.grade(
      input(fixture('answer-42'), await workspace({ 'answer.txt': '42\n' })),
    );
    expect(next.ok && next.result.pass).toBe(true);
    expect(graders.hostsStarted).toBe(2);
  });

  it('leaves no background process behind and retires the host that started one', async () => {
    const graders = await pool();
    const seconds = String(3000 + Math.floor(Math.random() * 900));
    const outcome = await graders.grade(input(written('daemon'), await workspace(), seconds));
    expect(outcome.ok).toBe(true);
    expect(await processesWith(`sleep${'\0'}${seconds}`)).toEqual([]);
    await graders.grade(input(fixture('answer-42'), await workspace({ 'answer.txt': '42\n' })));
    expect(graders.hostsStarted).toBe(2);
  });

  it('refuses a grader it does not mount, and says a missing grader is not found', async () => {
    const graders = await pool();
    const elsewhere = join(root, 'elsewhere.mjs');
    await writeFile(elsewhere, GRADERS.counter as string);
    await expect(graders.grade(input(elsewhere, await workspace()))).rejects.toThrow(
      /is not one of the graders this pool mounts/,
    );
    expect(await graders.grade(input(join(graderDir, 'gone.mjs'), await workspace()))).toEqual({
      ok: false,
      error: `grader ${join(graderDir, 'gone.mjs')} not found`,
    });
  });
});

// The weaker mode has no PID namespace: a process that left the group is found by its marker.
describe.runIf(process.platform === 'linux')('grader pool in process mode', () => {
  it('grades on a reused host and kills what a grade left behind, setsid included', async () => {
    const weak = await createSandbox('process', { secretInReach: false });
    const graders = await createGraderPool(weak, {
      graderPaths: [written('daemon'), fixture('answer-42')],
      dependenciesDir: null,
      size: 1,
    });
    pools.push(graders);
    for (let i = 0; i < 2; i++) {
      const outcome = await graders.grade(
        input(fixture('answer-42'), await workspace({ 'answer.txt': '42\n' })),
      );
      expect(outcome.ok && outcome.result.pass).toBe(true);
    }
    expect(graders.hostsStarted).toBe(1);
    const seconds = String(4000 + Math.floor(Math.random() * 900));
    expect((await graders.grade(input(written('daemon'), await workspace(), seconds))).ok).toBe(
      true,
    );
    expect(await processesWith(`sleep${'\0'}${seconds}`)).toEqual([]);
  });
});
