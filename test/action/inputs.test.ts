import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
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

  it('requires shard and suite for bench-shard', () => {
    expect(() => inputs({ 'github-token': 't', command: 'bench-shard' })).toThrow(
      /input 'shard' is required for bench-shard; input 'suite' is required for bench-shard/,
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
