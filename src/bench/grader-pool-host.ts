import { GRADE_SOURCE } from './grader-host.js';

/**
 * The program of one grade inside a pool host: a worker thread started fresh for every grade, so
 * nothing a grader keeps in module state or globals reaches the next trial. Before the grader
 * loads, every way to start another program (`child_process`, nested workers, native addons) is
 * wrapped to raise a shared flag first: the host then reports the grade as having run code of its
 * own choosing, and the pool retires the host rather than trust it with another workspace.
 * `workerData`: `{ graderPath, workspaceDir, transcript, finalMessage, dependenciesDir, flag }`.
 * It posts one string, the outcome JSON of the shared grade source.
 */
const GRADE_WORKER_SOURCE = `
import childProcess from 'node:child_process';
import { register, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import workerThreads from 'node:worker_threads';

const input = workerThreads.workerData;
const flag = new Int32Array(input.flag);
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
${GRADE_SOURCE}
workerThreads.parentPort.postMessage(line);
`;

/**
 * The long-lived grader host a `GraderPool` keeps in the sandbox (`node --input-type=module
 * --eval SRC CONFIG`), source text for the same reason as the one-shot host.
 *
 * CONFIG is JSON `{ wipeTmp, keep, dependenciesDir, workerHeapMb, maxOutputBytes }`. stdin carries one
 * request per line, `{ marker, graderPath, workspaceDir, transcript, finalMessage }`, and the host
 * answers each, in order, before reading the next: it moves into the workspace, runs the grade in
 * a fresh worker thread (GRADE_WORKER_SOURCE), then empties the sandbox's private /tmp when
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

function grade(request) {
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
  process.chdir(request.workspaceDir);
  const worker = new Worker(WORKER_URL, {
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: config.workerHeapMb },
    workerData: {
      graderPath: request.graderPath,
      workspaceDir: request.workspaceDir,
      transcript: request.transcript,
      finalMessage: request.finalMessage,
      dependenciesDir: config.dependenciesDir,
      flag,
    },
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
  return new Promise((resolve) => {
    worker.on('exit', (exitCode) => {
      const output = Buffer.concat(chunks).toString('utf8') + (truncated ? '\n[output truncated]' : '');
      const tainted = Atomics.load(new Int32Array(flag), 0) === 1;
      resolve({ outcome, failure, exitCode, output, tainted });
    });
  });
}

// Empties a folder but for the mounts in it (the slot, the graders' folders) and their parents.
async function wipe(dir) {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (config.keep.includes(path)) continue;
    if (config.keep.some((kept) => kept.startsWith(path + '/'))) await wipe(path);
    else await rm(path, { recursive: true, force: true });
  }
}

for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (text.trim() === '') continue;
  const request = JSON.parse(text);
  const reply = await grade(request);
  process.chdir(home);
  if (config.wipeTmp) await wipe('/tmp');
  await new Promise((resolve) => writeFrame('\n' + request.marker + JSON.stringify(reply) + '\n', resolve));
}
process.exit(0);
`;
