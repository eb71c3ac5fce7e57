import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBranchName } from '../../src/github/branch-name.js';
import { InvalidBranchNameError } from '../../src/github/errors.js';

function gitAccepts(branch: string): boolean {
  const result = spawnSync('git', ['check-ref-format', '--branch', branch], { encoding: 'utf8' });
  return result.status === 0;
}

function accepted(branch: string): boolean {
  try {
    checkBranchName(branch);
    return true;
  } catch (error) {
    if (error instanceof InvalidBranchNameError) return false;
    throw error;
  }
}

describe('checkBranchName', () => {
  it('accepts the names the tool uses', () => {
    for (const name of ['skill-optimizer/keep-a-changelog', 'skill-optimizer/a.b_c-1', 'main']) {
      expect(checkBranchName(name)).toBe(name);
    }
  });

  it('accepts only names git accepts too', () => {
    const alphabet = fc.constantFrom(...'ab-_./@{}~^:? *[\\\t'.split(''), 'lock', '..', '\u0000');
    fc.assert(
      fc.property(fc.array(alphabet, { minLength: 1, maxLength: 8 }), (parts) => {
        const name = parts.join('');
        if (accepted(name)) expect(gitAccepts(name), name).toBe(true);
      }),
      { numRuns: 300, seed: 4 },
    );
  });
});
