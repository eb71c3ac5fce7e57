import { type FileHandle, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InvalidFileError, SkillOptimizerError } from '../errors.js';
import { describeIssues } from '../text/yaml-file.js';
import { type TrialKey, trialKeyText } from './shard.js';
import type { TrialRecord } from './types.js';

export const RESULTS_FILE = 'results.jsonl';
export const META_FILE = 'meta.json';

const count = z.int().nonnegative();

export const usageSchema = z.strictObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
});

const isolationSchema = z.enum(['bubblewrap', 'process']);
const runnerSchema = z.enum(['messages', 'claude-code']);

/** One line of results.jsonl; mirrors `TrialRecord` (a test checks the two stay equal). */
export const trialRecordSchema = z.strictObject({
  probe: z.string().min(1),
  model: z.string().min(1),
  trial: z.int().positive(),
  baseline: z.boolean(),
  heldout: z.boolean(),
  runner: runnerSchema,
  status: z.enum(['pass', 'fail', 'error']),
  grader: z
    .strictObject({
      pass: z.boolean(),
      score: z.number().min(0).max(1).optional(),
      reasons: z.array(z.string()),
    })
    .nullable(),
  error: z.string().nullable(),
  transcript: z.array(
    z.strictObject({
      role: z.enum(['user', 'assistant']),
      content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]),
    }),
  ),
  finalMessage: z.string(),
  usage: usageSchema,
  cost_usd: z.number().nonnegative(),
  duration_ms: z.number().nonnegative(),
  stop_reason: z.enum([
    'end_turn',
    'max_turns',
    'max_tokens',
    'timeout',
    'budget',
    'refusal',
    'error',
  ]),
  skill_triggered: z.boolean().nullable(),
  isolation: isolationSchema,
});

/** A probe left out of a bench because its grader failed the smoke check (docs/suite-format.md). */
export const excludedProbeSchema = z.strictObject({
  probe: z.string(),
  reasons: z.array(z.string()),
});
export type ExcludedProbeEntry = z.output<typeof excludedProbeSchema>;

/** meta.json of a results dir: what was run, where, and when. */
export const resultsMetaSchema = z.strictObject({
  suite: z.string(),
  skill: z.string().optional(),
  models: z.array(z.string()),
  runner: runnerSchema,
  trials: z.int().positive(),
  baseline: z.boolean(),
  /** `i/n` as `parseShard` reads it; null when the bench was not split. */
  shard: z
    .string()
    .regex(/^[1-9]\d*\/[1-9]\d*$/, { error: 'expected i/n, e.g. 2/4' })
    .nullable(),
  /** Sandbox isolation of the run; null when unknown (e.g. merged shards that disagree). */
  isolation: isolationSchema.nullable(),
  excluded: z.array(excludedProbeSchema).default([]),
  /** Set on a merged results dir: the shard dirs it came from. */
  merged_from: z.array(z.string()).optional(),
  started: z.iso.datetime(),
  finished: z.iso.datetime().nullable(),
});
export type ResultsMeta = z.output<typeof resultsMetaSchema>;
/** What `writeMeta` accepts: defaults (`excluded: []`) may be left out. */
export type ResultsMetaInput = z.input<typeof resultsMetaSchema>;

/** Two result sets hold the same trial (e.g. overlapping shards). */
export class DuplicateTrialError extends SkillOptimizerError {}

/** `2026-11-22T01-30-00Z`: ISO time to the second, safe in file names. */
export function resultsDirName(now: Date): string {
  return `${now.toISOString().slice(0, 19).replaceAll(':', '-')}Z`;
}

/** Creates `<outRoot>/<timestamp>/` (with `-2`, `-3`, ... when taken) and returns its path. */
export async function createResultsDir(outRoot: string, now: Date): Promise<string> {
  await mkdir(outRoot, { recursive: true });
  const base = resultsDirName(now);
  for (let attempt = 1; ; attempt++) {
    const dir = path.join(outRoot, attempt === 1 ? base : `${base}-${attempt}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Appends trial records to a JSONL file, one line each, in call order; safe for concurrent callers. */
export class ResultsWriter {
  readonly #file: string;
  #handle: FileHandle | null = null;
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  #closed = false;

  constructor(file: string) {
    this.#file = file;
  }

  append(rec: TrialRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`ResultsWriter for ${this.#file} is closed`));
    // Validate before queueing: a record that cannot be read back must not be written.
    const checked = trialRecordSchema.safeParse(rec);
    if (!checked.success) {
      return Promise.reject(
        new TypeError(`invalid trial record: ${describeIssues(checked.error.issues, null)}`),
      );
    }
    const line = `${JSON.stringify(checked.data)}\n`;
    const write = this.#tail.then(async () => {
      if (this.#failure !== null) throw this.#failure;
      this.#handle ??= await open(this.#file, 'a');
      await this.#handle.appendFile(line, 'utf8');
    });
    // A failed write poisons the writer (later lines would leave a hole); the caller sees the error.
    this.#tail = write.then(
      () => undefined,
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    return write;
  }

  /** Waits for queued lines, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) await handle.close();
  }
}

async function kindOf(p: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function resultsFileOf(dirOrFile: string): Promise<string> {
  const kind = await kindOf(dirOrFile);
  if (kind === null)
    throw new InvalidFileError(dirOrFile, `no such results dir or ${RESULTS_FILE}`);
  if (kind === 'file') return dirOrFile;
  const file = path.join(dirOrFile, RESULTS_FILE);
  if ((await kindOf(file)) !== 'file') {
    throw new InvalidFileError(file, `missing: the results dir holds no ${RESULTS_FILE}`);
  }
  return file;
}

/** Writes a whole list of records as a new JSONL file (e.g. merged shards); replaces the file. */
export async function writeResults(file: string, records: readonly TrialRecord[]): Promise<void> {
  const lines = records.map((rec) => `${JSON.stringify(trialRecordSchema.parse(rec))}\n`);
  await writeFile(file, lines.join(''), 'utf8');
}

/** Reads results.jsonl (or a dir holding one); each line is validated, errors name `file:line`. */
export async function readResults(dirOrFile: string): Promise<TrialRecord[]> {
  const file = await resultsFileOf(dirOrFile);
  return parseResults(await readFile(file, 'utf8'), file);
}

/** Parses results.jsonl text; `file` names it in errors (`file:line`). */
export function parseResults(text: string, file: string): TrialRecord[] {
  const records: TrialRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidFileError(where, `not a JSON line (${(error as Error).message})`);
    }
    const result = trialRecordSchema.safeParse(value);
    if (!result.success)
      throw new InvalidFileError(where, describeIssues(result.error.issues, null));
    records.push(result.data);
  });
  return records;
}

const describeKey = (k: TrialKey) =>
  `probe '${k.probe}' model '${k.model}' trial ${k.trial}${k.baseline ? ' (baseline, no skill)' : ''}`;

/** Reads the results of several dirs (shards) into one list; a trial found twice is an error. */
export async function mergeResults(dirs: readonly string[]): Promise<TrialRecord[]> {
  const seen = new Map<string, string>();
  const merged: TrialRecord[] = [];
  for (const dir of dirs) {
    for (const rec of await readResults(dir)) {
      const key = trialKeyText(rec);
      const first = seen.get(key);
      if (first !== undefined) {
        throw new DuplicateTrialError(
          `${describeKey(rec)} appears twice: in ${first} and in ${dir} (overlapping shards or the same dir given twice)`,
        );
      }
      seen.set(key, dir);
      merged.push(rec);
    }
  }
  return merged;
}

export async function writeMeta(dir: string, meta: ResultsMetaInput): Promise<void> {
  await writeFile(
    path.join(dir, META_FILE),
    `${JSON.stringify(resultsMetaSchema.parse(meta), null, 2)}\n`,
  );
}

export async function readMeta(dir: string): Promise<ResultsMeta> {
  const file = path.join(dir, META_FILE);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new InvalidFileError(file, `not valid JSON (${error.message})`);
    throw error;
  }
  const result = resultsMetaSchema.safeParse(value);
  if (!result.success) throw new InvalidFileError(file, describeIssues(result.error.issues, null));
  return result.data;
}
