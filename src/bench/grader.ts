import { randomUUID } from 'node:crypto';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { PathEscapeError } from '../errors.js';
import { GRADER_HOST_SOURCE } from './grader-host.js';
import { copyWorkspace } from './sandbox/paths.js';
import type { Sandbox } from './sandbox/types.js';
import type { GraderResult, TranscriptMessage } from './types.js';

export const DEFAULT_GRADER_TIMEOUT_MS = 60_000;
/** Grader stdout carries only the result line; reasons can be long. */
const GRADER_MAX_OUTPUT_BYTES = 1024 * 1024;
const DETAIL_CHARS = 800;

/** What `grade()` must return (docs/suite-format.md); unknown keys are errors. */
export const graderResultSchema = z.strictObject({
  pass: z.boolean(),
  score: z.number().min(0).max(1).optional(),
  reasons: z.array(z.string()),
});

const hostOutcomeSchema = z.object({
  kind: z.enum(['returned', 'threw', 'badModule', 'unserializable']),
  value: z.unknown().optional(),
  detail: z.string().optional(),
});

export interface GradeInput {
  graderPath: string;
  workspaceDir: string;
  transcript: TranscriptMessage[];
  finalMessage: string;
  /** A folder holding `node_modules/` with the suite's grader dependencies (read-only). */
  dependenciesDir?: string | null;
}

export type GradeOutcome = { ok: true; result: GraderResult } | { ok: false; error: string };

export interface SmokeReport {
  ok: boolean;
  reasons: string[];
}

function clip(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > DETAIL_CHARS ? `${trimmed.slice(0, DETAIL_CHARS)}…` : trimmed;
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > DETAIL_CHARS ? `…${trimmed.slice(-DETAIL_CHARS)}` : trimmed;
}

async function isKind(path: string, kind: 'file' | 'dir'): Promise<boolean> {
  try {
    const info = await stat(path);
    return kind === 'file' ? info.isFile() : info.isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function resultLine(stdout: string, marker: string): string | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(marker));
  return line?.slice(marker.length);
}

/** A grader failure as the bench reports it: the grader file named first. */
export function gradeFailure(graderPath: string, error: string): GradeOutcome {
  return { ok: false, error: `grader ${graderPath} ${error}` };
}

/** Reads a host's outcome JSON (what follows the result marker) into the grader's result. */
export function judgeOutcomeLine(graderPath: string, line: string): GradeOutcome {
  const fail = (error: string) => gradeFailure(graderPath, error);
  let parsedLine: unknown;
  try {
    parsedLine = JSON.parse(line);
  } catch (error) {
    return fail(`printed an unreadable result (${(error as Error).message}): ${clip(line)}`);
  }
  const outcome = hostOutcomeSchema.safeParse(parsedLine);
  if (!outcome.success) return fail(`printed an unreadable result: ${clip(line)}`);
  const { kind, value, detail = '' } = outcome.data;
  if (kind === 'threw') return fail(`threw: ${clip(detail)}`);
  if (kind === 'badModule') return fail(clip(detail));
  if (kind === 'unserializable') return fail(`returned a value that is not JSON: ${clip(detail)}`);
  const result = graderResultSchema.safeParse(value);
  if (!result.success) {
    return fail(
      'returned the wrong shape (expected { pass: boolean, score?: number in 0..1, reasons: string[] }): ' +
        `${clip(z.prettifyError(result.error))}; got ${clip(JSON.stringify(value))}`,
    );
  }
  return { ok: true, result: result.data };
}

/**
 * Runs one grader in the sandbox: its directory mounted read-only, `workspaceDir` as the
 * writable cwd, input on stdin, result on a marked stdout line. Every failure becomes
 * `{ ok: false, error }` naming the grader file; nothing the grader does throws here.
 */
export async function runGrader(
  sandbox: Sandbox,
  input: GradeInput,
  opts: { timeoutMs?: number } = {},
): Promise<GradeOutcome> {
  const grader = input.graderPath;
  const fail = (error: string) => gradeFailure(grader, error);
  if (!(await isKind(grader, 'file'))) return fail('not found');
  const graderPath = await realpath(grader);
  const workspaceDir = await realpath(input.workspaceDir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GRADER_TIMEOUT_MS;
  const marker = `@@skill-optimizer-grader-result:${randomUUID()}@@`;
  const dependenciesDir = input.dependenciesDir ? await realpath(input.dependenciesDir) : null;
  const run = await sandbox.run(
    [sandbox.nodePath, '--input-type=module', '--eval', GRADER_HOST_SOURCE],
    {
      cwd: workspaceDir,
      timeoutMs,
      maxOutputBytes: GRADER_MAX_OUTPUT_BYTES,
      readOnlyBinds: [dirname(graderPath), ...(dependenciesDir === null ? [] : [dependenciesDir])],
      // For a grader that uses createRequire: import resolution falls back via the host's hook.
      ...(dependenciesDir === null
        ? {}
        : { env: { NODE_PATH: join(dependenciesDir, 'node_modules') } }),
      stdin: JSON.stringify({
        graderPath,
        workspaceDir,
        transcript: input.transcript,
        finalMessage: input.finalMessage,
        marker,
        ...(dependenciesDir === null ? {} : { dependenciesDir }),
      }),
    },
  );
  if (run.timedOut) return fail(`timed out after ${timeoutMs / 1000}s`);
  const line = resultLine(run.stdout, marker);
  if (line === undefined) {
    const stderr = run.stderr.trim() === '' ? '' : `; stderr: ${tail(run.stderr)}`;
    if (run.exitCode === 0) return fail(`finished without returning a result${stderr}`);
    const how = run.signal === null ? `with code ${run.exitCode}` : `on signal ${run.signal}`;
    return fail(`exited ${how} without returning a result${stderr}`);
  }
  return judgeOutcomeLine(grader, line);
}

const SMOKE_FIXTURES = [
  { name: 'good', expectPass: true },
  { name: 'bad', expectPass: false },
  { name: 'empty', expectPass: false },
] as const;

/**
 * The grader must pass `smoke/good` and fail `smoke/bad` and `smoke/empty` (docs/suite-format.md).
 * Each fixture is graded on a temporary copy, so a grader can never change the fixtures; the
 * transcript is empty and the final message ''. Reasons name the probe and the fixture.
 */
export async function smokeCheck(
  sandbox: Sandbox,
  probe: { id: string; dir: string; graderPath: string },
  opts: {
    timeoutMs?: number;
    dependenciesDir?: string | null;
    /** How each fixture is graded; a fresh `runGrader` in `sandbox` when omitted. */
    grade?: (input: GradeInput) => Promise<GradeOutcome>;
  } = {},
): Promise<SmokeReport> {
  if (!(await isKind(probe.graderPath, 'file'))) {
    return { ok: false, reasons: [`${probe.id}: grader ${probe.graderPath} not found`] };
  }
  const reasons: string[] = [];
  for (const { name, expectPass } of SMOKE_FIXTURES) {
    const label = `${probe.id}/smoke/${name}`;
    const fixture = join(probe.dir, 'smoke', name);
    if (!(await isKind(fixture, 'dir'))) {
      reasons.push(`${label}: missing (expected a directory at ${fixture})`);
      continue;
    }
    const copy = await mkdtemp(join(tmpdir(), 'so-smoke-'));
    try {
      await copyWorkspace(fixture, copy);
      const input = {
        graderPath: probe.graderPath,
        workspaceDir: copy,
        transcript: [],
        finalMessage: '',
        dependenciesDir: opts.dependenciesDir ?? null,
      };
      const outcome = await (opts.grade ?? ((i: GradeInput) => runGrader(sandbox, i, opts)))(input);
      if (!outcome.ok) reasons.push(`${label}: ${outcome.error}`);
      else if (outcome.result.pass !== expectPass) {
        const said =
          outcome.result.reasons.length > 0
            ? ` (grader said: ${outcome.result.reasons.join('; ')})`
            : '';
        reasons.push(
          expectPass
            ? `${label}: grader failed it (expected pass)${said}`
            : `${label}: grader passed it (expected fail)`,
        );
      }
    } catch (error) {
      if (!(error instanceof PathEscapeError)) throw error;
      reasons.push(`${label}: ${error.message}`);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  }
  return { ok: reasons.length === 0, reasons };
}
