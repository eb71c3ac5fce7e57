import { lstat, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { redactBytes } from '../text/redact.js';
import type { ArtifactPort } from './ports.js';

/** The artifact port over `@actions/artifact` (the runner's own artifact service). */
export function actionsArtifacts(client = new DefaultArtifactClient()): ArtifactPort {
  return {
    async upload(name, files, rootDir) {
      await client.uploadArtifact(name, files, rootDir);
    },
    async list(prefix) {
      const { artifacts } = await client.listArtifacts({ latest: true });
      return artifacts
        .filter((a) => a.name.startsWith(prefix))
        .map((a) => ({ id: a.id, name: a.name }));
    },
    async download(id, dir) {
      await client.downloadArtifact(id, { path: dir });
    },
  };
}

/**
 * The same port, with every file rewritten on disk with its secrets redacted (text/redact.ts)
 * before it is uploaded: an artifact can be downloaded by anyone who can read the workflow run.
 */
export function redactingArtifacts(port: ArtifactPort): ArtifactPort {
  return {
    async upload(name, files, rootDir) {
      for (const file of files) {
        const path = isAbsolute(file) ? file : join(rootDir, file);
        if (!(await lstat(path)).isFile()) continue;
        const bytes = await readFile(path);
        const clean = redactBytes(bytes);
        if (clean !== bytes) await writeFile(path, clean);
      }
      await port.upload(name, files, rootDir);
    },
    list: (prefix) => port.list(prefix),
    download: (id, dir) => port.download(id, dir),
  };
}
