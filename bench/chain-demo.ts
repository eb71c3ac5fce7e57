import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../src/cli/program.js';
import { costOf } from '../src/model/pricing.js';
import { loadScript } from '../src/model/scripted/script.js';
import { startScriptedServer } from '../src/model/scripted/server.js';
import type { Usage } from '../src/model/usage.js';
import { countGitProcesses } from '../src/store/git-meter.js';
import {
  criticalPathCalls,
  parallelCacheShare,
  readShare,
  type Segment,
  segments,
  sumTokens,
  type Tokens,
} from './critical-path.js';
import {
  DEMO_BRANCH,
  DEMO_INTENT,
  DEMO_RUN_DIR,
  DEMO_SCRIPT,
  DEMO_SETTINGS,
  DEMO_SKILL,
  git,
  lineRecorder,
  makeDemoRepo,
  type TimedLine,
} from './fixtures/demo-repo.js';
import { type ModelCall, recordGlobalFetch } from './model-calls.js';
import { busyMs, gitCommands, type ProcessSpan, recordProcesses } from './process-meter.js';
import { type Benchmark, type Log, type ResultRow, row } from './report.js';

const NAME = 'chain-demo';
const LATENCY_MS = 200;
const PARALLEL_TOOLS = new Set(['write_probe', 'review_probe']);
const KIND_WIDTH = 29;
/** Git processes one demo run started before the store batched its git work (measured at a0ef8f2). */
const GIT_PROCESSES_BEFORE = 368;

interface DemoRun {
  dir: string;
  start: number;
  wallMs: number;
  processes: ProcessSpan[];
  /** Git processes announced by runGit and the store's readers (store/git-meter.ts). */
  gitProcesses: { total: number; byCommand: string };
  calls: ModelCall[];
  lines: TimedLine[];
}

/**
 * `npm run demo`'s chain, in this process: the CLI's `run --autopilot` on the demo repository,
 * its model calls answered by a scripted server of our own (the demo's chain-script.yml, every
 * call after LATENCY_MS), reached through ANTHROPIC_BASE_URL, as the CLI does for a real API.
 */
async function runDemo(dir: string): Promise<DemoRun> {
  makeDemoRepo(dir);
  const server = await startScriptedServer({
    script: await loadScript(DEMO_SCRIPT),
    latencyMs: LATENCY_MS,
  });
  const out = lineRecorder();
  const err = lineRecorder();
  const recording = recordGlobalFetch();
  const processes = recordProcesses();
  const gitCount = countGitProcesses();
  try {
    const start = performance.now();
    const code = await runCli(['run', DEMO_SKILL, '--autopilot', '--intent', DEMO_INTENT], {
      env: { ...process.env, ANTHROPIC_API_KEY: 'bench-demo-key', ANTHROPIC_BASE_URL: server.url },
      cwd: dir,
      stdout: out.stream,
      stderr: err.stream,
    });
    const wallMs = performance.now() - start;
    const done = out.lines.some((l) => l.text.startsWith('run done'));
    if (code !== 0 || !done) {
      const tail = [...out.lines, ...err.lines].slice(-15).map((l) => l.text);
      throw new Error(`the demo run did not finish (exit ${code}):\n${tail.join('\n')}`);
    }
    return {
      dir,
      start,
      wallMs,
      processes: processes.spans,
      gitProcesses: { total: gitCount.total, byCommand: gitCount.describe() },
      calls: recording.calls,
      lines: out.lines,
    };
  } finally {
    gitCount.stop();
    processes.restore();
    recording.restore();
    await server.close();
  }
}

interface StepSpan {
  label: string;
  start: number;
  end: number;
}

/** Each step's `running` → result progress lines. */
function stepSpans(lines: readonly TimedLine[]): StepSpan[] {
  const spans: StepSpan[] = [];
  const open = new Map<string, number>();
  for (const { at, text } of lines) {
    const m = /^\s+(\d\d [a-z-]+): (.*)$/.exec(text);
    if (m === null) continue;
    const [, label = '', what] = m;
    if (what === 'running') open.set(label, at);
    else if (open.has(label)) {
      spans.push({ label, start: open.get(label) as number, end: at });
      open.delete(label);
    }
  }
  return spans;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The store's `cat-file` readers live as long as the run: counted, but not as busy time. */
const shortLived = (spans: readonly ProcessSpan[]) => spans.filter((s) => s.command !== 'cat-file');

/** Child processes started in [from, to]: git commands and the rest (sandboxed graders). */
function processSummary(spans: readonly ProcessSpan[], from: number, to: number): string {
  const inside = spans.filter((s) => s.start >= from && s.start < to);
  const gitSpans = inside.filter((s) => s.program === 'git');
  const other = inside.filter((s) => s.program !== 'git');
  return (
    `git ×${gitSpans.length} busy ${seconds(busyMs(shortLived(gitSpans), from, to))}, ` +
    `other processes ×${other.length} busy ${seconds(busyMs(other, from, to))}`
  );
}

/** The stretches of the run outside every step, with the progress lines around them. */
function gaps(run: DemoRun, steps: readonly StepSpan[]): Array<StepSpan & { from: string }> {
  const end = run.start + run.wallMs;
  const out: Array<StepSpan & { from: string }> = [];
  let at = run.start;
  let from = '(start)';
  for (const step of [...steps, { label: '(end)', start: end, end }]) {
    if (step.start > at) out.push({ label: step.label, from, start: at, end: step.start });
    at = Math.max(at, step.end);
    from = step.label;
  }
  return out;
}

function describePath(log: Log, run: DemoRun, segs: Segment[], pathMs: number): void {
  const steps = stepSpans(run.lines);
  log(
    `  critical path = Σ over segments of ${LATENCY_MS} ms × max(longest chain, ⌈calls / C⌉), ` +
      `C = ${DEMO_SETTINGS.concurrency}: a segment is a run of consecutive calls of one kind ` +
      '(one chain role, or bench trials with their baseline); its longest chain is its highest ' +
      "turn (a trial's turns, a structured call and its repair); segments follow one another.",
  );
  log(
    `    ${'step'.padEnd(20)} | ${'kind'.padEnd(KIND_WIDTH)} | calls | chain | on path | step wall`,
  );
  let stepWall = 0;
  for (const step of steps) {
    const mine = segs.filter((s) => s.start >= step.start && s.start <= step.end);
    const kind = mine.map((s) => s.kind).join(', ') || '(no model call)';
    const calls = mine.reduce((n, s) => n + s.calls.length, 0);
    const chain = Math.max(0, ...mine.map((s) => s.chain));
    const onPath = mine.reduce((n, s) => n + s.onPath, 0);
    stepWall += step.end - step.start;
    log(
      `    ${step.label.padEnd(20)} | ${kind.padEnd(KIND_WIDTH)} | ${String(calls).padStart(5)} | ` +
        `${String(chain).padStart(5)} | ${String(onPath).padStart(7)} | ${seconds(step.end - step.start)} ` +
        `(model path ${seconds(onPath * LATENCY_MS)}; ${processSummary(run.processes, step.start, step.end)})`,
    );
  }
  const between = gaps(run, steps);
  const widest = [...between].sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, 3);
  log(
    `    between steps (${between.length} stretches): ${seconds(run.wallMs - stepWall)}; widest: ` +
      widest
        .map(
          (g) =>
            `${g.from} → ${g.label} ${seconds(g.end - g.start)} (${processSummary(run.processes, g.start, g.end)})`,
        )
        .join('; '),
  );
  const outside = segs.filter((s) => !steps.some((t) => s.start >= t.start && s.start <= t.end));
  if (outside.length > 0) log(`    (segments outside any step: ${outside.map((s) => s.kind)})`);
  log(
    `  wall ${seconds(run.wallMs)}; critical path ${criticalPathCalls(segs)} calls = ` +
      `${seconds(pathMs)}; inside steps ${seconds(stepWall)}, between steps (vendoring, ` +
      `gates, state commits, staleness checks, report) ${seconds(run.wallMs - stepWall)}`,
  );
  const gitSpans = run.processes.filter((p) => p.program === 'git');
  log(
    `  child processes: git ×${gitSpans.length}, busy ${seconds(busyMs(shortLived(gitSpans), run.start, run.start + run.wallMs))} without the long-lived cat-file readers ` +
      `(${gitCommands(run.processes)}); others ×${run.processes.length - gitSpans.length}`,
  );
}

function priced(calls: readonly ModelCall[]): number {
  return calls.reduce((sum, c) => sum + (c.usage === null ? 0 : costOf(c.model, c.usage)), 0);
}

const tokenLine = (t: Tokens) =>
  `${t.calls} calls, input ${t.input}, cache write ${t.cacheWrite}, cache read ${t.cacheRead}, output ${t.output}`;

interface BranchFigures {
  chainUsage: Usage;
  chainCost: number;
  trialCost: number;
  trials: number;
}

/** What the run itself recorded on the work branch: chain.yml's spend and the trial records. */
function branchFigures(dir: string): BranchFigures {
  const show = (path: string) => git(dir, 'show', `${DEMO_BRANCH}:${DEMO_RUN_DIR}/${path}`);
  const state = parse(show('chain.yml')) as { usage: Usage; cost_usd: number };
  const files = git(dir, 'ls-tree', '-r', '--name-only', DEMO_BRANCH, '--', DEMO_RUN_DIR)
    .split('\n')
    .filter((p) => p.endsWith('/results.jsonl'))
    .map((p) => p.slice(DEMO_RUN_DIR.length + 1));
  const records = files.flatMap((f) =>
    show(f)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { cost_usd: number }),
  );
  return {
    chainUsage: state.usage,
    chainCost: state.cost_usd,
    trialCost: records.reduce((sum, r) => sum + r.cost_usd, 0),
    trials: records.length,
  };
}

function accounting(log: Log, run: DemoRun): void {
  const missing = run.calls.filter((c) => c.usage === null);
  if (missing.length > 0) throw new Error(`${missing.length} model calls got no usage`);
  const isTrial = (c: ModelCall) => c.tools.includes('read_file');
  const chain = run.calls.filter((c) => !isTrial(c));
  const trials = run.calls.filter(isTrial);
  const usages = (cs: ModelCall[]) => cs.map((c) => c.usage as Usage);
  const branch = branchFigures(run.dir);
  log(`  accounting at list prices (src/model/pricing.ts costOf, per call):`);
  log(`    chain subagents: ${tokenLine(sumTokens(usages(chain)))}, $${priced(chain).toFixed(4)}`);
  log(
    `    bench trials:    ${tokenLine(sumTokens(usages(trials)))}, $${priced(trials).toFixed(4)}`,
  );
  log(`    total: ${run.calls.length} calls, $${priced(run.calls).toFixed(4)}`);
  const u = branch.chainUsage;
  const all = sumTokens(usages(run.calls));
  const same =
    u.input_tokens === all.input &&
    u.cache_creation_input_tokens === all.cacheWrite &&
    u.cache_read_input_tokens === all.cacheRead &&
    u.output_tokens === all.output &&
    Math.abs(branch.chainCost - priced(run.calls)) < 1e-9;
  log(
    `    as the run recorded it (chain.yml usage and cost_usd count subagents and trials): input ` +
      `${u.input_tokens}, cache write ${u.cache_creation_input_tokens}, cache read ` +
      `${u.cache_read_input_tokens}, output ${u.output_tokens}, $${branch.chainCost.toFixed(4)} ` +
      `(${same ? 'equal to' : 'DIFFERENT from'} the per-call sum); results.jsonl: ` +
      `${branch.trials} trials, $${branch.trialCost.toFixed(4)}`,
  );
}

/**
 * Targets: the whole autopilot demo's wall time against the model latencies on its critical
 * path (< 1.5×, the target with injected latency), the git processes one run starts
 * (under a third of the 368 it started before the store batched its git work), its accounting
 * at list prices, and the prompt-cache read share of the parallel subagents of steps 4 and 5
 * (no target: those fan-outs are not held for a cache warm-up, so their first calls all write;
 * the reads come from each conversation's later turns — see the chain's model options).
 */
export const chainDemoBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-chain-demo-'));
    try {
      const run = await runDemo(dir);
      const segs = segments(run.calls, DEMO_SETTINGS.concurrency);
      const pathMs = criticalPathCalls(segs) * LATENCY_MS;
      log(
        `  npm run demo's chain in-process (runCli run --autopilot), ${LATENCY_MS} ms per model ` +
          `call, trials ${DEMO_SETTINGS.trials}, concurrency ${DEMO_SETTINGS.concurrency}; ` +
          `${run.calls.length} model calls`,
      );
      describePath(log, run, segs, pathMs);
      log(
        `  git processes counted on the store's diagnostics channel: ${run.gitProcesses.total} ` +
          `(${run.gitProcesses.byCommand}); ${GIT_PROCESSES_BEFORE} before batching`,
      );
      accounting(log, run);

      const parallel = segs.filter((s) => PARALLEL_TOOLS.has(s.kind));
      const share = parallelCacheShare(parallel, DEMO_SETTINGS.concurrency);
      for (const s of parallel) {
        const t = sumTokens(s.calls.map((c) => c.usage as Usage));
        log(
          `  ${s.kind} (${s.calls.length} parallel calls): per call input ${Math.round(t.input / t.calls)}, ` +
            `cache write ${Math.round(t.cacheWrite / t.calls)}, cache read ${Math.round(t.cacheRead / t.calls)} (mean)`,
        );
      }
      const chain = run.calls.filter((c) => !c.tools.includes('read_file'));
      const single = sumTokens(
        chain.filter((c) => !PARALLEL_TOOLS.has(c.tools[0] ?? '')).map((c) => c.usage as Usage),
      );
      log(
        `  the other chain subagents (one call per step): ${tokenLine(single)}; ` +
          `read share ${(readShare(single) * 100).toFixed(1)} %`,
      );
      const trials = run.calls.filter((c) => c.tools.includes('read_file'));
      const rows: ResultRow[] = [
        row(NAME, 'wall / model critical path', run.wallMs / pathMs, 'ratio', {
          op: '<',
          value: 1.5,
        }),
        row(NAME, 'git processes per demo run', run.gitProcesses.total, 'count', {
          op: '<',
          value: Math.ceil(GIT_PROCESSES_BEFORE / 3),
        }),
        row(NAME, 'demo wall time', run.wallMs, 'ms'),
        row(NAME, 'model latency on the critical path', pathMs, 'ms'),
        row(NAME, `list-price cost, chain subagents (${chain.length} calls)`, priced(chain), 'USD'),
        row(NAME, `list-price cost, bench trials (${trials.length} calls)`, priced(trials), 'USD'),
        row(NAME, 'steps 4+5 cache read share, all calls', readShare(share.all), '%'),
        row(
          NAME,
          'steps 4+5 cache read share after the first call of each step',
          readShare(share.afterFirst),
          '%',
        ),
        row(
          NAME,
          `steps 4+5, first ${DEMO_SETTINGS.concurrency} calls of each step as misses`,
          share.firstWaveColdRead,
          '%',
        ),
      ];
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
