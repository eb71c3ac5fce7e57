import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { PRESETS, resolveLoopSettings } from '../../src/config/loop.js';

const settingsOf = (yaml: string) => resolveLoopSettings(parseConfig(yaml, 'config.yml'));

describe('resolveLoopSettings', () => {
  it('uses the standard preset by default', () => {
    expect(settingsOf('')).toEqual({ threshold: 80, maxIterations: 5, maxRevisions: 2 });
  });

  it.each([
    ['quick', { threshold: 70, maxIterations: 3, maxRevisions: 2 }],
    ['standard', { threshold: 80, maxIterations: 5, maxRevisions: 2 }],
    ['thorough', { threshold: 90, maxIterations: 8, maxRevisions: 2 }],
  ] as const)('applies the %s preset', (preset, expected) => {
    expect(PRESETS[preset]).toEqual(expected);
    expect(settingsOf(`preset: ${preset}`)).toEqual(expected);
  });

  it('lets each explicit key override its preset value alone', () => {
    expect(settingsOf('preset: quick\nthreshold: 85')).toEqual({
      threshold: 85,
      maxIterations: 3,
      maxRevisions: 2,
    });
    expect(settingsOf('preset: thorough\nmax_iterations: 2\nmax_revisions: 0')).toEqual({
      threshold: 90,
      maxIterations: 2,
      maxRevisions: 0,
    });
    expect(settingsOf('threshold: 0')).toMatchObject({ threshold: 0 });
  });
});
