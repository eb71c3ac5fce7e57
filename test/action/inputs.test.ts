import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { matrixRuns, parseBenchMatrix } from '../../src/action/bench-matrix.js';
import { INPUT_DEFAULTS, readInputs } from '../../src/action/inputs.js';

const inputs = (values: Record<string, string>) => readInputs((name) => values[name] ?? '');

describe('readInputs', () => {
  it('fills defaults and parses the shard', () => {
    const read = inputs({
      'github-token': 'ghs_x',
      command: 'bench-shard',
      shard: '2/4',
      suite: 'tests/suite.yml',
    });
    expect(read).toMatchObject({
      command: 'bench-shard',
      shard: { index: 2, count: 4 },
      'config-path': '.github/skill-optimizer.yml',
      'anthropic-api-key': '',
      'bot-login': 'github-actions[bot]',
      baseline: 'false',
    });
  });

  it('accepts a step name as command', () => {
    expect(inputs({ 'github-token': 't', command: 'design-tests' }).command).toBe('design-tests');
  });

  it('names every bad input in one error', () => {
    expect(() => inputs({ command: 'launch', shard: '5/4', 'config-path': '../x.yml' })).toThrow(
      /input 'command' must be one of: auto, functionality.*input 'shard' .*5\/4.*input 'config-path' must be a path inside the repository.*input 'github-token' is empty/s,
    );
  });

  it('takes a work branch instead of a suite for a shard of a chain run, never both', () => {
    const base = { 'github-token': 't', command: 'bench-shard', shard: '1/3' };
    expect(inputs({ ...base, 'work-branch': 'skill-optimizer/2-pdf' })).toMatchObject({
      'work-branch': 'skill-optimizer/2-pdf',
      suite: '',
    });
    expect(() =>
      inputs({ ...base, 'work-branch': 'skill-optimizer/2-pdf', suite: 'tests/suite.yml' }),
    ).toThrow(/input 'work-branch' and suite exclude each other/);
  });

  it('requires shard and suite for bench-shard', () => {
    expect(() => inputs({ 'github-token': 't', command: 'bench-shard' })).toThrow(
      /input 'shard' is required for bench-shard; input 'suite' is required for bench-shard \(or work-branch, for a shard of a chain run\)/,
    );
  });

  it('keeps action.yml and the schema in step (names and defaults)', () => {
    const action = parse(readFileSync('action.yml', 'utf8')) as {
      inputs: Record<string, { default: string }>;
      outputs: Record<string, unknown>;
      runs: { using: string; main: string };
    };
    const declared = Object.fromEntries(
      Object.entries(action.inputs).map(([name, spec]) => [name, spec.default]),
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
    expect(declared).toEqual({ ...INPUT_DEFAULTS, 'github-token': '${{ github.token }}' });
    expect(Object.keys(action.outputs).sort()).toEqual([
      'bench-matrix',
      'chain-pr',
      'cost',
      'gate',
      'status',
    ]);
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });
});

describe('parseBenchMatrix', () => {
  const entry = {
    branch: 'skill-optimizer/2-pdf',
    shard: '1/2',
    chain_pr: 3,
    actor: 'octocat',
    autopilot: false,
  };

  it("reads the chain job's output and lists each run once with its shard count", () => {
    const matrix = parseBenchMatrix(
      JSON.stringify({ include: [entry, { ...entry, shard: '2/2' }] }),
    );
    expect(matrixRuns(matrix)).toEqual([{ ...entry, slug: 'pdf', skillPr: 2, shards: 2 }]);
  });

  it('names what is wrong with it', () => {
    expect(() => parseBenchMatrix('{"include": [')).toThrow(
      /input 'bench-matrix' is not JSON .*pass the chain job's output/,
    );
    expect(() => parseBenchMatrix(JSON.stringify({ include: [] }))).toThrow(
      /input 'bench-matrix' include: /,
    );
    expect(() =>
      parseBenchMatrix(JSON.stringify({ include: [{ ...entry, branch: 'main' }] })),
    ).toThrow(/input 'bench-matrix' include.0.branch: must be a work branch/);
    expect(() =>
      parseBenchMatrix(JSON.stringify({ include: [{ ...entry, shard: '3/2' }] })),
    ).toThrow(/input 'bench-matrix' include.0.shard: invalid shard 3\/2/);
  });
});
