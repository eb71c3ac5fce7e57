import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redactingArtifacts } from '../../src/action/artifacts.js';
import type { ArtifactPort } from '../../src/action/ports.js';
import { REDACTED } from '../../src/text/redact.js';
import { useGitSandbox } from '../store/git-fixture.js';

const sandbox = useGitSandbox();
const KEY = `sk-ant-api03-${'ShardLeak_'.repeat(9)}WW`;

describe('redactingArtifacts', () => {
  it('uploads bench shard files with their secrets redacted, bytes included', async () => {
    const dir = join(sandbox.base, 'shard');
    await mkdir(join(dir, 'trials'), { recursive: true });
    const results = join(dir, 'results.jsonl');
    const raw = join(dir, 'trials', 'out.bin');
    await writeFile(results, `${JSON.stringify({ transcript: `echo ${KEY}` })}\n`);
    await writeFile(raw, Buffer.concat([Buffer.from([0, 0xfe]), Buffer.from(KEY)]));
    const uploaded: Array<{ name: string; files: string[]; contents: Buffer[] }> = [];
    const inner: ArtifactPort = {
      async upload(name, files) {
        uploaded.push({ name, files, contents: await Promise.all(files.map((f) => readFile(f))) });
      },
      list: async () => [],
      download: async () => {},
    };

    await redactingArtifacts(inner).upload('bench-shard-1', [results, raw], dir);

    expect(uploaded).toHaveLength(1);
    expect(uploaded[0]?.files).toEqual([results, raw]);
    expect(uploaded[0]?.contents).toEqual([
      Buffer.from(`${JSON.stringify({ transcript: `echo ${REDACTED}` })}\n`),
      Buffer.concat([Buffer.from([0, 0xfe]), Buffer.from(REDACTED)]),
    ]);
  });
});
