import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_FILE, renderConfigDocs } from '../../src/config/config-docs.js';
import {
  allowedKeysAt,
  CONFIG_SCHEMA_FILE,
  CONFIG_SCHEMA_ID,
  configJsonSchema,
} from '../../src/config/json-schema.js';

describe('config JSON Schema', () => {
  it('is committed exactly as generated (run `npx tsx scripts/gen-schema.ts` after a change)', () => {
    const committed = JSON.parse(readFileSync(join(process.cwd(), CONFIG_SCHEMA_FILE), 'utf8'));
    // Compared as data: Biome owns the file's layout.
    expect(committed).toEqual(configJsonSchema());
  });

  it('has its reference page committed exactly as generated (docs/configuration.md)', () => {
    const committed = readFileSync(join(process.cwd(), CONFIG_DOCS_FILE), 'utf8');
    expect(committed).toBe(renderConfigDocs());
    expect(committed).toContain(
      "| `budget_usd` | number (> 0) | `10` | Hard cap on a run's model cost",
    );
    expect(committed).toContain('| `labels.run` | string | `skill-optimizer` |');
  });

  it('describes the file for editors: id, title, closed objects, defaults', () => {
    const schema = configJsonSchema() as {
      $id: string;
      title: string;
      additionalProperties: boolean;
      required?: string[];
      properties: Record<string, { default?: unknown; additionalProperties?: boolean }>;
    };
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(schema.title).toMatch(/Skill Optimizer/);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toBeUndefined();
    expect(schema.properties.trials?.default).toBe(3);
    expect(schema.properties.models?.additionalProperties).toBe(false);
  });

  it('lists the keys allowed at a path', () => {
    expect(allowedKeysAt(['models'])).toEqual(['executor', 'evaluator', 'optimizer', 'bench']);
    expect(allowedKeysAt(['prices', 'any-model'])).toContain('long_prompt');
    expect(allowedKeysAt(['trials'])).toBeNull();
    expect(allowedKeysAt(['no_such_key'])).toBeNull();
  });
});
