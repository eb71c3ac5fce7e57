import { smokeCheck } from '../bench/grader.js';
import { defaultGraderDepsCache, prepareGraderDependencies } from '../bench/grader-deps.js';
import { runBench } from '../bench/run-bench.js';
import type { BubblewrapProbe, Sandbox, SandboxMode } from '../bench/sandbox/index.js';
import { loadSuite } from '../bench/suite.js';
import { chainSuiteOverrides } from '../chain/bench-plan.js';
import { createChainModel } from '../chain/model.js';
import type { BenchPort, DriverDeps } from '../chain/ports.js';
import { localSkillSource } from '../chain/start.js';
import { createLocalUpstreamReader } from '../chain/upstream-local.js';
import { resolveLoopSettings } from '../config/loop.js';
import type { Config } from '../config/schema.js';
import type { ModelLog } from '../model/client.js';
import { CostLedger } from '../model/ledger.js';
import type { RunStore } from '../store/port.js';
import { type ClaudeCodeRunnerFactory, openModelAccess } from './model-access.js';

export interface ChainAccess {
  deps: DriverDeps;
  /** The isolation trials and graders get, for the edges to state first when it is weak. */
  sandbox: Pick<Sandbox, 'level' | 'fallbackReason'>;
  close(): Promise<void>;
}

/**
 * Builds the driver's ports for a run whose repository is on disk (the CLI's repository, the
 * Action's checkout): model, bench, upstream reader, skill source.
 */
export async function openChainAccess(opts: {
  /** Where ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL (and PATH) are read from. */
  env: NodeJS.ProcessEnv;
  store: RunStore;
  repoRoot: string;
  config: Config;
  scriptedPath: string | undefined;
  sandboxMode: SandboxMode;
  probeBubblewrap?: BubblewrapProbe;
  claudeCode?: ClaudeCodeRunnerFactory;
  missingKeyHint?: string;
  /** `--record`: append every model exchange to this script file. */
  recordPath?: string;
  log: (line: string) => void;
  /** Where model retries and waits go; default: `log` for both levels. */
  modelLog?: ModelLog;
  now?: () => Date;
}): Promise<ChainAccess> {
  const { config } = opts;
  const access = await openModelAccess({
    env: opts.env,
    scriptedPath: opts.scriptedPath,
    runner: config.runner,
    sandboxMode: opts.sandboxMode,
    ...(opts.probeBubblewrap ? { probeBubblewrap: opts.probeBubblewrap } : {}),
    ...(opts.claudeCode ? { claudeCode: opts.claudeCode } : {}),
    ...(opts.missingKeyHint ? { missingKeyHint: opts.missingKeyHint } : {}),
    ...(opts.recordPath !== undefined ? { recordPath: opts.recordPath } : {}),
    log: opts.modelLog ?? { warn: opts.log, info: opts.log },
  });
  const ledger = new CostLedger({ ...(config.prices ? { prices: config.prices } : {}) });
  const bench: BenchPort = {
    async run(request) {
      const suite = await loadSuite(
        request.suitePath,
        chainSuiteOverrides(config, request.skillDir),
      );
      const result = await runBench(
        {
          suite,
          baseline: request.baseline,
          outRoot: request.outRoot,
          keepWorkspaces: false,
          ...(request.keys ? { keys: request.keys } : {}),
          ...(request.shard ? { shard: request.shard } : {}),
          ...(request.reserve ? { reserve: request.reserve } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        },
        {
          runner: access.runner,
          sandbox: access.sandbox,
          costOf: access.costOf,
          log: opts.log,
          ...(request.onTrial
            ? { onProgress: (p) => request.onTrial?.(p.last, { done: p.done, total: p.total }) }
            : {}),
        },
      );
      return {
        dir: result.dir,
        records: result.records,
        excluded: result.excluded,
        isolation: access.sandbox.level,
        skipped: result.skipped,
      };
    },
    // Before any trial is measured: a typical agent trial of ~30k input and ~3k output tokens.
    estimateTrialCost: (model) =>
      access.costOf(model, {
        input_tokens: 30_000,
        output_tokens: 3_000,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      }),
    smoke: async (probe) =>
      smokeCheck(access.sandbox, probe, {
        dependenciesDir: await prepareGraderDependencies(probe.graderDependencies, {
          cacheDir: defaultGraderDepsCache(),
        }),
      }),
  };
  const deps: DriverDeps = {
    store: opts.store,
    model: createChainModel(access.newClient(ledger), config.models, {
      contextShare: config.context_share,
    }),
    bench,
    upstream: createLocalUpstreamReader({ baseDir: opts.repoRoot }),
    source: localSkillSource(opts.repoRoot),
    meter: {
      spent() {
        const { total } = ledger.summary();
        return { usage: total.usage, cost_usd: total.cost_usd };
      },
    },
    config,
    loop: resolveLoopSettings(config),
    now: opts.now ?? (() => new Date()),
    log: opts.log,
  };
  return { deps, sandbox: access.sandbox, close: () => access.close() };
}
