/**
 * Writes schema/skill-optimizer.schema.json from the config's zod schema, formatted by Biome so
 * `npm run lint` accepts it, and docs/configuration.md from the same schema.
 * Run: npx tsx scripts/gen-schema.ts (test/config/json-schema.test.ts fails when either is stale).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_DOCS_FILE, renderConfigDocs } from '../src/config/config-docs.js';
import { CONFIG_SCHEMA_FILE, renderConfigJsonSchema } from '../src/config/json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, CONFIG_SCHEMA_FILE);
await mkdir(dirname(target), { recursive: true });
await writeFile(target, renderConfigJsonSchema());
execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', target], {
  cwd: root,
  stdio: 'pipe',
});
await writeFile(join(root, CONFIG_DOCS_FILE), renderConfigDocs());
process.stdout.write(`wrote ${CONFIG_SCHEMA_FILE} and ${CONFIG_DOCS_FILE}\n`);
