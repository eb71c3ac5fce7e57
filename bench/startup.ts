import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median } from './measure.js';
import { type Benchmark, type ResultRow, row } from './report.js';

const NAME = 'startup';
const RUNS = 10;
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'skill-optimizer.js');

const run = promisify(execFile);

/** Seconds in bash's `times` notation (`0m0.068s`). */
function seconds(field: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(field);
  if (match === null) throw new Error(`unexpected \`times\` field: ${field}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * CPU time (user + system, in ms) of one `node bin/skill-optimizer.js <args>` process, read from
 * bash's `times` builtin, whose second line is the children's user and system time.
 */
export async function cliCpuMs(args: string[]): Promise<number> {
  const quoted = args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const { stdout } = await run('bash', ['-c', `node '${BIN}' ${quoted} >/dev/null 2>&1; times`]);
  const children = stdout.trim().split('\n')[1]?.trim().split(/\s+/) ?? [];
  if (children.length !== 2) throw new Error(`unexpected \`times\` output: ${stdout}`);
  return (seconds(children[0] ?? '') + seconds(children[1] ?? '')) * 1000;
}

async function medianCpu(args: string[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await cliCpuMs(args));
  return median(samples);
}

export const startupBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    // bin/ runs the built lib/; build it so the figure is of the current source.
    await run('node', [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT });
    const rows: ResultRow[] = [];
    for (const args of [['--help'], ['--version'], ['run', '--help']]) {
      const cpu = await medianCpu(args);
      log(`  skill-optimizer ${args.join(' ')}: median CPU ${cpu.toFixed(0)} ms over ${RUNS} runs`);
      rows.push(
        row(NAME, `skill-optimizer ${args.join(' ')} CPU (user + system)`, cpu, 'ms', {
          op: '<',
          value: 300,
        }),
      );
    }
    return rows;
  },
};
