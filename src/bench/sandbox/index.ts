import { BubblewrapSandbox, probeBubblewrap } from './bubblewrap.js';
import { SandboxUnavailableError } from './errors.js';
import { ProcessSandbox } from './process.js';
import type { Sandbox } from './types.js';

export { SandboxUnavailableError } from './errors.js';
export { copyWorkspace, resolveInside } from './paths.js';
export type { Sandbox, SandboxResult, SandboxRunOptions } from './types.js';

export type SandboxMode = 'auto' | 'bubblewrap' | 'process';

let bubblewrapProbe: Promise<BubblewrapSandbox | string> | undefined;

/**
 * `bubblewrap`: bwrap or SandboxUnavailableError saying why not and how to fix it.
 * `process`: the weaker fallback, on request.
 * `auto`: bwrap if it can actually start (probed once per process), else `process` with the
 * reason in `fallbackReason` so the bench summary can state the isolation level used.
 */
export async function createSandbox(mode: SandboxMode = 'auto'): Promise<Sandbox> {
  if (mode === 'process') return new ProcessSandbox();
  bubblewrapProbe ??= probeBubblewrap();
  const probed = await bubblewrapProbe;
  if (probed instanceof BubblewrapSandbox) return probed;
  if (mode === 'bubblewrap') throw new SandboxUnavailableError(probed);
  return new ProcessSandbox(probed);
}
