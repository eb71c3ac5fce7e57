import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { ArtifactPort } from '../../src/action/ports.js';

/** An in-memory stand-in for the runner's artifact service: uploads are copied into a folder. */
export class FakeArtifacts implements ArtifactPort {
  readonly stored: Array<{ id: number; name: string; dir: string; files: string[] }> = [];
  constructor(private readonly root: string) {}

  async upload(name: string, files: string[], rootDir: string): Promise<void> {
    const dir = join(this.root, name);
    const rel = files.map((file) => relative(rootDir, file));
    for (const [i, file] of files.entries()) {
      mkdirSync(dirname(join(dir, rel[i] ?? '')), { recursive: true });
      cpSync(file, join(dir, rel[i] ?? ''));
    }
    this.stored.push({ id: this.stored.length + 1, name, dir, files: rel });
  }
  async list(prefix: string) {
    return this.stored
      .filter((a) => a.name.startsWith(prefix))
      .map(({ id, name }) => ({ id, name }));
  }
  async download(id: number, dir: string): Promise<void> {
    const found = this.stored.find((a) => a.id === id);
    if (!found) throw new Error(`no artifact ${id}`);
    cpSync(found.dir, dir, { recursive: true });
  }
}
