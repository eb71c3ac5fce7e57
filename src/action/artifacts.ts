import { DefaultArtifactClient } from '@actions/artifact';
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
