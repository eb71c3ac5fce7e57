import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, isAbsolute } from 'node:path';
import { bwrapArgs } from './bwrap-args.js';
import type { HostLayout } from './host-layout.js';
import { withResourceLimits } from './limits.js';
import { killGroup } from './spawn.js';
import { TRIAL_MARKER_VAR, watchTrial } from './watch.js';

/**
 * Starting a long-running agent program (Claude Code) under the same isolation and limits as the
 * sandbox's short commands. In bubblewrap the agent sees only the system dirs, node, its own
 * program dir, its workspace and private HOME; it has no network but a loopback port that a small
 * node forwarder inside the sandbox pipes to a Unix socket bound in from the host (the model
 * gateway's bridge).
 */

/** How the agent is isolated: bubblewrap with the host layout, or a plain process group. */
export type AgentIsolation = { level: 'bubblewrap'; layout: HostLayout } | { level: 'process' };

/** The loopback port the in-sandbox forwarder listens on; the network namespace is private. */
export const AGENT_GATEWAY_PORT = 38_080;

/**
 * The forwarder, run by node inside the sandbox: `node -e SRC <port> <socket> <program> <args…>`.
 * It listens on 127.0.0.1:<port>, pipes each connection to the Unix socket, then starts the
 * program with the same stdio and exits with its status.
 */
export const FORWARDER_SOURCE = `
const net = require('node:net');
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [port, socket, file, ...args] = process.argv.slice(1);
const server = net.createServer((inner) => {
  const outer = net.connect(socket);
  inner.on('error', () => outer.destroy());
  outer.on('error', () => inner.destroy());
  inner.pipe(outer).pipe(inner);
});
server.on('error', (error) => {
  process.stderr.write('gateway forwarder: ' + error.message + '\\n');
  process.exit(70);
});
server.listen(Number(port), '127.0.0.1', () => {
  const child = spawn(file, args, { stdio: 'inherit' });
  for (const name of ['SIGTERM', 'SIGINT']) process.on(name, () => child.kill(name));
  child.on('error', (error) => {
    process.stderr.write('cannot start ' + file + ': ' + error.message + '\\n');
    process.exit(127);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
});
`;

export interface AgentLimits {
  timeoutMs: number;
  memoryMb: number;
  maxDiskMb: number;
  maxProcesses: number;
}

export interface AgentSpawnRequest {
  command: string;
  args: string[];
  /** The workspace: writable, watched for size, the working directory. */
  cwd: string;
  /** The agent's whole environment (built by the caller, never inherited). */
  env: Record<string, string>;
  /** The agent's private HOME: writable. */
  home: string;
  /** Bubblewrap only: the host-side Unix socket that reaches the model gateway. */
  gatewaySocket?: string;
  limits: AgentLimits;
  signal?: AbortSignal;
  /** A limit was breached and the agent killed for it. */
  onLimit: (reason: string) => void;
  /** Killing what was left of the agent failed; the caller logs it. */
  onCleanupError: (error: unknown) => void;
}

/** argv of the launch: bwrap (sealed, forwarder first) or the limits wrapper alone. */
function launchArgv(isolation: AgentIsolation, req: AgentSpawnRequest): string[] {
  // An agent runs several threads: its CPU time may exceed the wall clock.
  const cpuSeconds = 2 * Math.ceil(req.limits.timeoutMs / 1000) + 1;
  if (isolation.level === 'process') {
    // No RLIMIT_NPROC outside a user namespace (it counts every process of the user).
    const { maxProcesses: _, ...limits } = req.limits;
    return withResourceLimits([req.command, ...req.args], { ...limits, cpuSeconds });
  }
  if (req.gatewaySocket === undefined || !isAbsolute(req.command)) {
    throw new Error('a sealed agent needs an absolute program path and the gateway socket');
  }
  const { layout } = isolation;
  return [
    layout.bwrapPath,
    ...bwrapArgs(layout, {
      cwd: req.cwd,
      writableBinds: [req.home],
      readOnlyBinds: [dirname(req.command), dirname(req.gatewaySocket)],
    }),
    ...withResourceLimits(
      [
        layout.nodePath,
        '-e',
        FORWARDER_SOURCE,
        String(AGENT_GATEWAY_PORT),
        req.gatewaySocket,
        req.command,
        ...req.args,
      ],
      { ...req.limits, cpuSeconds },
    ),
  ];
}

/**
 * Starts the agent in its own process group under the limits, watched from outside (process
 * count, workspace size). When it exits, everything it started dies with it.
 */
export interface SpawnedAgent {
  child: ChildProcess;
  /** Settles once the agent has exited and every process it left behind has been killed. */
  cleanedUp: Promise<void>;
}

export function spawnAgent(isolation: AgentIsolation, req: AgentSpawnRequest): SpawnedAgent {
  const [file, ...args] = launchArgv(isolation, req) as [string, ...string[]];
  const marker = randomUUID();
  const child = spawn(file, args, {
    cwd: req.cwd,
    env: { ...req.env, [TRIAL_MARKER_VAR]: marker },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(req.signal ? { signal: req.signal } : {}),
  });
  if (child.pid === undefined) return { child, cleanedUp: Promise.resolve() };
  const pid = child.pid;
  const watch = watchTrial(
    pid,
    marker,
    {
      dir: req.cwd,
      maxProcesses: req.limits.maxProcesses,
      maxDirBytes: Math.floor(req.limits.maxDiskMb * 1024 * 1024),
    },
    (reason) => {
      req.onLimit(reason);
      killGroup(pid);
    },
  );
  const cleanedUp = new Promise<void>((resolve) => {
    child.on('exit', () => {
      killGroup(pid);
      watch.stop().catch(req.onCleanupError).finally(resolve);
    });
  });
  return { child, cleanedUp };
}
