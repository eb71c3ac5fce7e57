import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  createResultsDir,
  DuplicateTrialError,
  mergeResults,
  ResultsWriter,
  readMeta,
  readResults,
  resultsDirName,
  type trialRecordSchema,
  writeMeta,
  writeResults,
} from '../../src/bench/results.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { InvalidFileError } from '../../src/errors.js';
import { trialRecord, trials } from './trial-record.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'results-test-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

it('the record schema matches TrialRecord exactly', () => {
  expectTypeOf<z.output<typeof trialRecordSchema>>().toEqualTypeOf<TrialRecord>();
});

describe('createResultsDir', () => {
  it('names the dir by UTC time to the second and never reuses one', async () => {
    const now = new Date('2026-11-22T01:30:00.123Z');
    expect(resultsDirName(now)).toBe('2026-11-22T01-30-00Z');
    const out = path.join(root, 'nested', 'out');
    const first = await createResultsDir(out, now);
    const second = await createResultsDir(out, now);
    const third = await createResultsDir(out, now);
    expect(first).toBe(path.join(out, '2026-11-22T01-30-00Z'));
    expect(second).toBe(path.join(out, '2026-11-22T01-30-00Z-2'));
    expect(third).toBe(path.join(out, '2026-11-22T01-30-00Z-3'));
  });
});

describe('ResultsWriter and readResults', () => {
  it('round-trips records through JSONL, one line each, in append order under concurrency', async () => {
    const file = path.join(root, 'results.jsonl');
    const writer = new ResultsWriter(file);
    const records = [
      ...trials({ passes: 2, fails: 1, errors: 1 }),
      trialRecord({
        trial: 9,
        grader: { pass: true, score: 0.5, reasons: ['line one\nline two'] },
      }),
    ];
    await Promise.all(records.map((r) => writer.append(r)));
    await writer.close();
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')).toHaveLength(records.length + 1);
    expect(await readResults(file)).toEqual(records);
    expect(await readResults(root)).toEqual(records);
  });

  it('appends to an existing file and refuses records that would not read back', async () => {
    const file = path.join(root, 'results.jsonl');
    await writeResults(file, [trialRecord({ trial: 1 })]);
    const writer = new ResultsWriter(file);
    await writer.append(trialRecord({ trial: 2 }));
    await expect(writer.append({ ...trialRecord(), trial: 0 })).rejects.toThrow(
      'invalid trial record: trial: ',
    );
    await writer.close();
    await expect(writer.append(trialRecord())).rejects.toThrow(/closed/);
    expect((await readResults(file)).map((r) => r.trial)).toEqual([1, 2]);
  });

  it('reports a write failure to the caller and to every later append', async () => {
    const writer = new ResultsWriter(path.join(root, 'missing-dir', 'results.jsonl'));
    await expect(writer.append(trialRecord())).rejects.toThrow(/ENOENT/);
    await expect(writer.append(trialRecord({ trial: 2 }))).rejects.toThrow(/ENOENT/);
    await writer.close();
  });

  it('names file and line of a bad line', async () => {
    const file = path.join(root, 'results.jsonl');
    const good = JSON.stringify(trialRecord());
    await writeFile(file, `${good}\n\n{"probe": 1\n`);
    await expect(readResults(file)).rejects.toThrow(new RegExp(`^${file}:3: not a JSON line`));
    const bad = {
      ...trialRecord(),
      usage: { ...trialRecord().usage, input_tokens: -1 },
      extra: true,
    };
    await writeFile(file, `${good}\n${JSON.stringify(bad)}\n`);
    const error = await readResults(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toMatch(new RegExp(`^${file}:2: .*usage\\.input_tokens: `));
    expect((error as Error).message).toContain('extra: unknown key');
  });

  it('names a missing results file', async () => {
    await expect(readResults(root)).rejects.toThrow(`${path.join(root, 'results.jsonl')}: missing`);
    await expect(readResults(path.join(root, 'nope'))).rejects.toThrow(InvalidFileError);
  });
});

describe('mergeResults', () => {
  const shardDir = async (name: string, records: TrialRecord[]) => {
    const dir = path.join(root, name);
    await mkdir(dir);
    await writeResults(path.join(dir, 'results.jsonl'), records);
    return dir;
  };

  it('concatenates shards', async () => {
    const a = await shardDir('a', trials({ passes: 2, fails: 0 }));
    const b = await shardDir('b', trials({ passes: 1, fails: 1 }, { baseline: true }));
    const merged = await mergeResults([a, b]);
    expect(merged.map((r) => [r.trial, r.baseline, r.status])).toEqual([
      [1, false, 'pass'],
      [2, false, 'pass'],
      [1, true, 'pass'],
      [2, true, 'fail'],
    ]);
  });

  it('names both dirs of a duplicate trial', async () => {
    const a = await shardDir('a', trials({ passes: 2, fails: 0 }));
    const b = await shardDir('b', [
      trialRecord({ trial: 3 }),
      trialRecord({ trial: 2, status: 'fail' }),
    ]);
    const error = await mergeResults([a, b]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateTrialError);
    expect((error as Error).message).toBe(
      `probe 'csv/sums' model 'model-a' trial 2 appears twice: in ${a} and in ${b} (overlapping shards or the same dir given twice)`,
    );
  });
});

describe('meta.json', () => {
  it('round-trips and fills defaults', async () => {
    const meta = {
      suite: '/x/tests/suite.yml',
      models: ['m'],
      runner: 'messages' as const,
      trials: 3,
      baseline: true,
      shard: '2/4',
      isolation: 'process' as const,
      started: '2026-11-22T01:30:00.000Z',
      finished: null,
    };
    await writeMeta(root, meta);
    expect(await readMeta(root)).toEqual({ ...meta, excluded: [] });
  });

  it('names the field of a bad meta.json', async () => {
    await writeFile(path.join(root, 'meta.json'), JSON.stringify({ suite: 's' }));
    await expect(readMeta(root)).rejects.toThrow(`${path.join(root, 'meta.json')}: models: `);
    await writeFile(path.join(root, 'meta.json'), '{');
    await expect(readMeta(root)).rejects.toThrow(/meta\.json: not valid JSON/);
  });
});
