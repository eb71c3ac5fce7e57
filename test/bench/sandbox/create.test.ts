import { describe, expect, it } from 'vitest';
import {
  createSandbox,
  parseSandboxMode,
  SandboxUnavailableError,
  weakIsolationNotice,
} from '../../../src/bench/sandbox/index.js';

const NO_BWRAP = 'bwrap cannot start a sandbox here (setting up uid map: Permission denied)';
const cannotStart = async () => NO_BWRAP;

describe('createSandbox fails closed', () => {
  it('auto with a secret in reach and no bubblewrap: refuses, naming the reason and the fix', async () => {
    const made = createSandbox('auto', { secretInReach: true, probe: cannotStart });
    await expect(made).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(made).rejects.toThrow(NO_BWRAP);
    await expect(made).rejects.toThrow('set `sandbox: process` in the config');
  });

  it('bubblewrap mode without bubblewrap: refuses whether or not a secret is in reach', async () => {
    for (const secretInReach of [true, false]) {
      await expect(
        createSandbox('bubblewrap', { secretInReach, probe: cannotStart }),
      ).rejects.toThrow(NO_BWRAP);
    }
  });

  it('auto with no secret in reach falls back, and says why in the notice', async () => {
    const sandbox = await createSandbox('auto', { secretInReach: false, probe: cannotStart });
    expect(sandbox.level).toBe('process');
    expect(sandbox.fallbackReason).toBe(NO_BWRAP);
    expect(weakIsolationNotice(sandbox)).toMatch(
      /^Warning: weaker isolation\. .*bubblewrap is not available \(bwrap cannot start/,
    );
  });

  it('process mode runs only on request, never probes, and is announced', async () => {
    let probed = false;
    const sandbox = await createSandbox('process', {
      secretInReach: true,
      probe: async () => {
        probed = true;
        return NO_BWRAP;
      },
    });
    expect(probed).toBe(false);
    expect(sandbox.level).toBe('process');
    expect(weakIsolationNotice(sandbox)).toContain(
      'the `process` sandbox mode was chosen explicitly',
    );
  });

  it('an unknown mode is an error naming the choices and its source', () => {
    expect(() => parseSandboxMode('bogus', '--sandbox')).toThrow(
      "--sandbox must be one of auto, bubblewrap, process (got 'bogus')",
    );
    expect(parseSandboxMode('process', '--sandbox')).toBe('process');
  });
});
