import { GRADE_SOURCE } from './grader-host.js';

/**
 * The program of one grade inside a pool host: a worker thread started fresh for every grade, so
 * nothing a grader keeps in module state or globals reaches the next trial. Before the grader
 * loads, every way to start another program (`child_process`, nested workers, native addons) is
 * wrapped to raise a shared flag first: the host then reports the grade as having run code of its
 * own choosing, and the pool retires the host rather than trust it with another workspace.
 * It is started ahead of its grade (so its start-up overlaps the trial's agent): `workerData` is
 * `{ dependenciesDir, flag }`, then one message brings `{ graderPath, workspaceDir, transcript,
 * finalMessage }`. It posts one string, the outcome JSON of the shared grade source.
 */
const GRADE_WORKER_SOURCE = `
import childProcess from 'node:child_process';
import { register, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import workerThreads from 'node:worker_threads';

const flag = new Int32Array(workerThreads.workerData.flag);
const raise = () => Atomics.store(flag, 0, 1);
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  const original = childProcess[name];
  childProcess[name] = function (...args) {
    raise();
    return original.apply(this, args);
  };
}
const OriginalWorker = workerThreads.Worker;
workerThreads.Worker = class extends OriginalWorker {
  constructor(...args) {
    raise();
    super(...args);
  }
};
const dlopen = process.dlopen;
process.dlopen = (...args) => {
  raise();
  return dlopen.apply(process, args);
};
syncBuiltinESMExports();
const job = await new Promise((resolve) => workerThreads.parentPort.once('message', resolve));
const input = { ...job, dependenciesDir: workerThreads.workerData.dependenciesDir };
${GRADE_SOURCE}
workerThreads.parentPort.postMessage(line);
`;

/**
 * The long-lived grader host a `GraderPool` keeps in the sandbox (`node --input-type=module
 * --eval SRC CONFIG`), source text for the same reason as the one-shot host.
 *
 * CONFIG is JSON `{ wipeTmp, keep, dependenciesDir, workerHeapMb, maxOutputBytes, warmDelayMs }`.
 * stdin carries one
 * request per line, `{ marker, graderPath, workspaceDir, transcript, finalMessage }`, and the host
 * answers each, in order, before reading the next: it moves into the workspace, runs the grade in
 * a fresh worker thread (GRADE_WORKER_SOURCE, started before the request came), then empties the sandbox's private /tmp when
 * `wipeTmp` is set, all but the mounts listed in `keep`. Its only stdout is one line per request: the request's `marker` followed by
 * JSON `{ outcome, failure, exitCode, output, tainted }`: `outcome` the worker's outcome JSON (or
 * null when it ended without one), `failure` an uncaught error, `exitCode` the worker's, `output`
 * what the grader printed (capped), `tainted` whether it started another program. Everything else
 * the host or a grader writes to stdout goes to stderr or is ignored by the pool, and `marker` is
 * random per grade, so a workspace cannot forge a result.
 */
export const GRADER_POOL_HOST_SOURCE = String.raw`
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';

const writeFrame = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
const config = JSON.parse(process.argv[1]);
const home = process.cwd();
const WORKER_URL = new URL('data:text/javascript,' + encodeURIComponent(${JSON.stringify(GRADE_WORKER_SOURCE)}));

// The next grade's worker, started ahead: it boots while the host waits for the request.
function startWorker() {
  const flag = new SharedArrayBuffer(4);
  const chunks = [];
  let size = 0;
  let truncated = false;
  const keep = (chunk) => {
    const room = config.maxOutputBytes - size;
    if (chunk.length > room) truncated = true;
    if (room <= 0) return;
    chunks.push(chunk.subarray(0, room));
    size += Math.min(room, chunk.length);
  };
  const worker = new Worker(WORKER_URL, {
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: config.workerHeapMb },
    workerData: { dependenciesDir: config.dependenciesDir, flag },
  });
  worker.stdout.on('data', keep);
  worker.stderr.on('data', keep);
  let outcome = null;
  let failure = null;
  worker.on('message', (message) => {
    outcome ??= String(message);
    void worker.terminate();
  });
  worker.on('error', (error) => {
    failure ??= error instanceof Error ? (error.stack ?? error.message) : String(error);
  });
  const ended = new Promise((resolve) => {
    worker.on('exit', (exitCode) => {
      const output = Buffer.concat(chunks).toString('utf8') + (truncated ? '\n[output truncated]' : '');
      const tainted = Atomics.load(new Int32Array(flag), 0) === 1;
      resolve({ outcome, failure, exitCode, output, tainted });
    });
  });
  return { worker, ended };
}

function grade(ready, request) {
  process.chdir(request.workspaceDir);
  ready.worker.postMessage({
    graderPath: request.graderPath,
    workspaceDir: request.workspaceDir,
    transcript: request.transcript,
    finalMessage: request.finalMessage,
  });
  return ready.ended;
}

async function wipe(dir) {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (config.keep.includes(path)) continue;
    if (config.keep.some((kept) => kept.startsWith(path + '/'))) await wipe(path);
    else await rm(path, { recursive: true, force: true });
  }
}

// The next worker starts a little after an answer, not with it: when a wave of trials ends
// together, the other hosts' grades come first and the boots follow.
let ready = startWorker();
let warming = null;
for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (text.trim() === '') continue;
  const request = JSON.parse(text);
  clearTimeout(warming);
  const current = ready ?? startWorker();
  ready = null;
  const reply = await grade(current, request);
  process.chdir(home);
  if (config.wipeTmp) await wipe('/tmp');
  await new Promise((resolve) => writeFrame('\n' + request.marker + JSON.stringify(reply) + '\n', resolve));
  warming = setTimeout(() => {
    ready = startWorker();
  }, config.warmDelayMs);
}
process.exit(0);
`;
