import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { REDACTED } from '../../src/text/redact.js';

/** What the CLI prints never carries its environment's credentials or a credential shape. */

const ENV_KEY = 'env-only-anthropic-key-7f3a9c';
const SHAPED = `ghp_${'CliLeak012'.repeat(3)}abcdef`;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const sink = (key: keyof typeof out) =>
    new Writable({
      write(chunk, _encoding, next) {
        out[key] += String(chunk);
        next();
      },
    });
  const io: CliIO = {
    env: { ANTHROPIC_API_KEY: ENV_KEY },
    cwd: process.cwd(),
    stdout: sink('stdout'),
    stderr: sink('stderr'),
  };
  const code = await runCli(args, io);
  return { code, ...out };
}

describe('CLI output redaction', () => {
  it.each([
    ['the ANTHROPIC_API_KEY of its environment', ENV_KEY],
    ['a GitHub token shape', SHAPED],
  ])('an error message echoing %s prints it redacted', async (_name, secret) => {
    const run = await cli(['bench', 'suite.yml', '--runner', secret]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: --runner must be one of messages, claude-code (got '${REDACTED}')\n`,
    );
    expect(run.stdout + run.stderr).not.toContain(secret);
  });
});
