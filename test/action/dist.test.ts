import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'so-dist-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('dist/index.js', () => {
  it('is the bundle of the current sources (run node scripts/build-action.mjs when this fails)', () => {
    const fresh = join(out, 'index.js');
    execFileSync(process.execPath, ['scripts/build-action.mjs', fresh], { stdio: 'pipe' });
    const built = readFileSync(fresh, 'utf8');
    const committed = readFileSync('dist/index.js', 'utf8');
    expect(built.length).toBeGreaterThan(100_000);
    expect(committed === built, 'dist/index.js is stale: run node scripts/build-action.mjs').toBe(
      true,
    );
  });

  it('bundles the Claude Code agent SDK (its binary is installed at run time)', () => {
    const committed = readFileSync('dist/index.js', 'utf8');
    // An import left to node_modules would fail on a runner, where the Action has none.
    expect(committed).not.toMatch(/^import .* from ['"]@anthropic-ai\/claude-agent-sdk['"]/m);
    expect(committed).toContain('installing the Claude Code agent');
  });
});
