import type { Sandbox } from './types.js';

/**
 * The warning every output (terminal, bench summary, job summary, check run) puts first when
 * trials and graders run in the weaker `process` mode; null under bubblewrap.
 */
export function weakIsolationNotice(
  sandbox: Pick<Sandbox, 'level' | 'fallbackReason'>,
): string | null {
  if (sandbox.level !== 'process') return null;
  const why =
    sandbox.fallbackReason === null
      ? 'the `process` sandbox mode was chosen explicitly'
      : `bubblewrap is not available (${sandbox.fallbackReason})`;
  return `Warning: weaker isolation. Trials and graders run as plain processes because ${why}: they can reach the network and read files and same-user processes outside the trial folder.`;
}
