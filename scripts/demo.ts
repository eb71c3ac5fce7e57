/**
 * `npm run demo`: the whole chain, in autopilot, on the bundled example skill, against the
 * scripted model, in a temporary git repository (or `--dir <path>`, kept afterwards).
 * `--record <file>` records the run's model exchanges; `--scripted <file>` replays a recording
 * instead of the example's script.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseState } from '../src/chain/state.js';
import { runCli } from '../src/cli/program.js';

const EXAMPLE = resolve(import.meta.dirname, '..', 'examples', 'keep-a-changelog');
const SCRIPT = join(EXAMPLE, 'chain-script.yml');

const { values } = parseArgs({
  options: { dir: { type: 'string' }, scripted: { type: 'string' }, record: { type: 'string' } },
});
const dir = values.dir ? resolve(values.dir) : mkdtempSync(join(tmpdir(), 'skill-optimizer-demo-'));
if (values.dir && existsSync(dir) && readdirSync(dir).length > 0) {
  console.error(`error: ${dir} is not empty; pick a new folder for the demo repository`);
  process.exit(1);
}
mkdirSync(join(dir, 'skills'), { recursive: true });
mkdirSync(join(dir, '.github'), { recursive: true });
cpSync(join(EXAMPLE, 'skill'), join(dir, 'skills', 'keep-a-changelog'), { recursive: true });
writeFileSync(
  join(dir, '.github', 'skill-optimizer.yml'),
  [
    '# Skill Optimizer settings for the demo repository',
    'models:',
    '  executor: claude-sonnet-4-6',
    '  bench: [claude-sonnet-4-6]',
    'trials: 3',
    'concurrency: 4',
    'preset: standard',
    'upstream:',
    '  submit: true',
    '',
  ].join('\n'),
);
writeFileSync(join(dir, 'LICENSE'), 'MIT License\n\nCopyright (c) 2026 Demo Maintainers\n');
writeFileSync(
  join(dir, 'CONTRIBUTING.md'),
  '# Contributing\n\nOpen a pull request per skill change. Title: `<skill>: what changed`. Sign off your commits.\n',
);
const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
git('init', '--quiet', '--initial-branch=main');
git('add', '-A');
git(
  '-c',
  'user.name=Demo Maintainer',
  '-c',
  'user.email=demo@example.com',
  'commit',
  '--quiet',
  '-m',
  'Add the keep-a-changelog skill',
);

console.log(`demo repository: ${dir}\n`);
const code = await runCli(
  [
    'run',
    'skills/keep-a-changelog',
    '--autopilot',
    '--scripted',
    values.scripted ? resolve(values.scripted) : SCRIPT,
    ...(values.record ? ['--record', resolve(values.record)] : []),
    '--intent',
    'Make the skill reliable for release work, not just for adding entries, and propose the result upstream.',
  ],
  {
    env: { ...process.env, ANTHROPIC_API_KEY: '' },
    cwd: dir,
    stdout: process.stdout,
    stderr: process.stderr,
  },
);
if (code !== 0) process.exit(code);

const branch = 'skill-optimizer/keep-a-changelog';
const log = git('log', '--format=%s', `main..${branch}`).trim().split('\n').reverse();
console.log(`\nwork branch ${branch} (${log.length} commits):`);
for (const line of log) console.log(`  ${line}`);
const state = parseState(
  git('show', `${branch}:.skill-optimizer/keep-a-changelog/chain.yml`),
  'chain.yml',
);
console.log('\nbenches:');
for (const b of state.benches) {
  const interval = b.pass_rate_interval ? ` [${b.pass_rate_interval.join('–')}]` : '';
  console.log(
    `  ${b.iteration}: ${b.pass_rate ?? '—'}%${interval} over ${b.graded} graded trials, held-out ${b.heldout_pass_rate ?? '—'}% — ${b.verdict ?? 'first measurement'}${b.kept ? '' : ' (discarded)'}`,
  );
}
console.log(`report: git -C ${dir} show ${branch}:.skill-optimizer/keep-a-changelog/report.md`);
if (!state.benches.some((b) => b.verdict === 'improved' && b.kept)) {
  console.error('error: no candidate was kept with the verdict improved');
  process.exit(1);
}
