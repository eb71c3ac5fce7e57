import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runGrader } from '../src/bench/grader.js';
import { createSandbox, type Sandbox } from '../src/bench/sandbox/index.js';
import type { GraderResult } from '../src/bench/types.js';
import { median, percentile, timeRuns } from './measure.js';
import { type Benchmark, type ResultRow, row } from './report.js';

const NAME = 'sandbox';
const RUNS = 30;
const TRUE = '/bin/true';

const GRADER = `export default async function grade({ finalMessage }) {
  return { pass: finalMessage === 'done', reasons: [] };
}
`;

/** start-to-exit of a plain child process with the environment a sandbox gives its commands. */
function plainSpawn(argv: [string, ...string[]], cwd: string): Promise<void> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd,
      env: { PATH: '/usr/bin:/bin', HOME: cwd, LANG: 'C.UTF-8' },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}`)),
    );
  });
}

async function sandboxed(sandbox: Sandbox, cwd: string): Promise<void> {
  const result = await sandbox.run([TRUE], { cwd, timeoutMs: 10_000 });
  if (result.exitCode !== 0) throw new Error(`${TRUE} in ${sandbox.level}: ${result.stderr}`);
}

async function graded(sandbox: Sandbox, graderPath: string, workspaceDir: string): Promise<void> {
  const outcome = await runGrader(sandbox, {
    graderPath,
    workspaceDir,
    transcript: [],
    finalMessage: 'done',
  });
  if (!outcome.ok || !outcome.result.pass)
    throw new Error(`trivial grader in ${sandbox.level}: ${JSON.stringify(outcome)}`);
}

function summary(durations: number[]): string {
  return `median ${median(durations).toFixed(1)} ms, p90 ${percentile(durations, 90).toFixed(1)} ms`;
}

/**
 * Target 3: the cost of running a command in the sandbox, as start-to-exit of `true` there minus
 * the same for a plain spawn (medians over RUNS runs, one at a time), for each isolation level
 * that can start here; and what running a trivial grader through `runGrader` costs over calling
 * its function in-process.
 */
export const sandboxBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-sandbox-'));
    try {
      const workspace = join(dir, 'workspace');
      await mkdir(workspace);
      const graderPath = join(dir, 'grader', 'grader.mjs');
      await mkdir(join(dir, 'grader'));
      await writeFile(graderPath, GRADER);

      const sandboxes: Sandbox[] = [await createSandbox('process', { secretInReach: false })];
      const auto = await createSandbox('auto', { secretInReach: false });
      if (auto.level === 'bubblewrap') sandboxes.unshift(auto);
      else log(`  bubblewrap not measured: ${auto.fallbackReason}`);

      const plain = await timeRuns(RUNS, () => plainSpawn([TRUE], workspace));
      const plainNode = await timeRuns(RUNS, () =>
        plainSpawn([process.execPath, '-e', ''], workspace),
      );
      const grade = (await import(pathToFileURL(graderPath).href)).default as (input: {
        workspaceDir: string;
        transcript: unknown[];
        finalMessage: string;
      }) => Promise<GraderResult>;
      const inProcess = await timeRuns(RUNS, () =>
        grade({ workspaceDir: workspace, transcript: [], finalMessage: 'done' }),
      );
      log(`  ${RUNS} runs each, one at a time`);
      log(`  plain spawn of ${TRUE}: ${summary(plain)}`);
      log(`  plain spawn of node -e '': ${summary(plainNode)} (node start-up, scrubbed env)`);
      log(`  grader function in-process: ${summary(inProcess)}`);

      const rows: ResultRow[] = [row(NAME, `plain spawn ${TRUE}`, median(plain), 'ms')];
      for (const sandbox of sandboxes) {
        const command = await timeRuns(RUNS, () => sandboxed(sandbox, workspace));
        const grader = await timeRuns(RUNS, () => graded(sandbox, graderPath, workspace));
        const overhead = median(command) - median(plain);
        const graderOverhead = median(grader) - median(inProcess);
        log(`  ${sandbox.level}: ${TRUE} ${summary(command)}; runGrader ${summary(grader)}`);
        rows.push(
          row(NAME, `${sandbox.level}: ${TRUE} start-to-exit`, median(command), 'ms'),
          row(NAME, `${sandbox.level}: overhead per command`, overhead, 'ms', {
            op: '<',
            value: 100,
          }),
          row(NAME, `${sandbox.level}: runGrader over in-process`, graderOverhead, 'ms'),
        );
      }
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
