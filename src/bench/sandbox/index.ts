import { SkillOptimizerError } from '../../errors.js';
import type { AgentIsolation } from './agent.js';
import { BubblewrapSandbox, probeBubblewrap } from './bubblewrap.js';
import { SandboxUnavailableError } from './errors.js';
import { ProcessSandbox } from './process.js';
import type { Sandbox } from './types.js';

export { probeBubblewrap } from './bubblewrap.js';
export { SandboxUnavailableError } from './errors.js';
export { weakIsolationNotice } from './notice.js';
export { copyWorkspace, resolveInside } from './paths.js';
export type {
  ResidentProcess,
  Sandbox,
  SandboxResult,
  SandboxRunOptions,
  SandboxStartOptions,
} from './types.js';

export const SANDBOX_MODES = ['auto', 'bubblewrap', 'process'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** Starts a probe sandbox: bubblewrap when it works here, else why not (with the fix). */
export type BubblewrapProbe = () => Promise<BubblewrapSandbox | string>;

export interface CreateSandboxOptions {
  /**
   * A secret is within reach of a trial's processes (a real API key in this process, or any run
   * on GitHub Actions): `auto` then refuses to fall back to `process`.
   */
  secretInReach: boolean;
  /** How bubblewrap is probed; the real probe (run once per process) when omitted. */
  probe?: BubblewrapProbe;
}

let bubblewrapProbe: Promise<BubblewrapSandbox | string> | undefined;
const probeOnce: BubblewrapProbe = () => {
  bubblewrapProbe ??= probeBubblewrap();
  return bubblewrapProbe;
};

/** The mode a user asked for; anything else is an error naming the choices and where it came from. */
export function parseSandboxMode(value: string, source: string): SandboxMode {
  if ((SANDBOX_MODES as readonly string[]).includes(value)) return value as SandboxMode;
  throw new SkillOptimizerError(
    `${source} must be one of ${SANDBOX_MODES.join(', ')} (got '${value}')`,
  );
}

/**
 * `bubblewrap`: bwrap or SandboxUnavailableError saying why not and how to fix it.
 * `process`: the weaker level, only on explicit request.
 * `auto`: bwrap if it can actually start; where no secret is in reach (the scripted model,
 * locally) it falls back to `process` with the reason in `fallbackReason`, which every output
 * then shows first; where a secret is in reach it fails closed like `bubblewrap`.
 */
export async function createSandbox(
  mode: SandboxMode,
  opts: CreateSandboxOptions,
): Promise<Sandbox> {
  if (mode === 'process') return new ProcessSandbox();
  const probed = await (opts.probe ?? probeOnce)();
  if (probed instanceof BubblewrapSandbox) return probed;
  if (mode === 'bubblewrap') throw new SandboxUnavailableError(probed);
  if (opts.secretInReach) {
    throw new SandboxUnavailableError(
      `trials and graders run only in bubblewrap while a secret is in reach (an API key, or a run on GitHub Actions), and bubblewrap cannot start: ${probed}. To accept the weaker isolation instead, set \`sandbox: process\` in the config (or pass --sandbox process).`,
    );
  }
  return new ProcessSandbox(probed);
}

/** How an agent program is sealed to match `sandbox`: the same bubblewrap layout, or a process. */
export function agentIsolationOf(sandbox: Sandbox): AgentIsolation {
  return sandbox instanceof BubblewrapSandbox
    ? { level: 'bubblewrap', layout: sandbox.layout }
    : { level: 'process' };
}
