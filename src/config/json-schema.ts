import { z } from 'zod';
import { configSchema } from './schema.js';

/** Where the schema is committed; `scripts/gen-schema.ts` writes it, a test keeps it fresh. */
export const CONFIG_SCHEMA_FILE = 'schema/skill-optimizer.schema.json';

/** A stable identifier for the schema (a URN, so it does not pretend to be a download URL). */
export const CONFIG_SCHEMA_ID = 'urn:skill-optimizer:config';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema of `.github/skill-optimizer.yml` as a user writes it (every key optional, defaults
 * shown), for editor completion. Draft-07, the draft YAML editors support most widely.
 */
export function configJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-07' }) as JsonSchema;
  return {
    $schema: generated.$schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'Skill Optimizer configuration',
    description:
      'Repository configuration for Skill Optimizer, read from .github/skill-optimizer.yml. ' +
      'Every key is optional; unknown keys are errors.',
    ...generated,
  };
}

/** The committed file's exact text. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/**
 * Keys the schema allows in the mapping at `path` (array indices step into `items`, unlisted keys
 * into `additionalProperties`), or null when the path does not lead to a mapping with known keys.
 */
export function allowedKeysAt(path: readonly PropertyKey[]): string[] | null {
  let node: unknown = configJsonSchema();
  for (const key of path) {
    const schema = node as JsonSchema;
    const extra = schema.additionalProperties;
    node =
      typeof key === 'number'
        ? schema.items
        : ((schema.properties as JsonSchema | undefined)?.[String(key)] ??
          (typeof extra === 'object' ? extra : undefined));
    if (node === undefined) return null;
  }
  const properties = (node as JsonSchema).properties;
  return properties !== undefined && properties !== null ? Object.keys(properties) : null;
}
