import type { Script } from '../src/model/scripted/script.js';
import { startScriptedServer } from '../src/model/scripted/server.js';
import { startServerProcess } from './fixtures/server-process.js';

/**
 * Where the scripted model server runs: in this process (its CPU shares the event loop with the
 * bench) or in a child process, as a remote API would be.
 */
export type ServerPlacement = 'in-process' | 'child-process';

export interface BenchServer {
  url: string;
  close(): Promise<void>;
}

export async function startBenchServer(opts: {
  script: Script;
  latencyMs: number;
  placement: ServerPlacement;
}): Promise<BenchServer> {
  if (opts.placement === 'child-process') return startServerProcess(opts.script, opts.latencyMs);
  const server = await startScriptedServer({ script: opts.script, latencyMs: opts.latencyMs });
  return { url: server.url, close: () => server.close() };
}
