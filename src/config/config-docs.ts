import { configJsonSchema } from './json-schema.js';

/** Where the configuration reference is committed; `scripts/gen-schema.ts` writes it too. */
export const CONFIG_DOCS_FILE = 'docs/configuration.md';

type Node = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, Node>;
  items?: Node;
  anyOf?: Node[];
  additionalProperties?: boolean | Node;
};

const cell = (text: string) => text.replaceAll('|', '\\|').replace(/\s+/g, ' ').trim();

function typeOf(node: Node): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
  if (type === 'array' && node.items) return `list of ${typeOf(node.items)}`;
  if (type === 'object' && node.properties === undefined) return 'mapping';
  return type;
}

function rangeOf(node: Node): string {
  const parts: string[] = [];
  if (node.minimum !== undefined) parts.push(`≥ ${node.minimum}`);
  if (node.exclusiveMinimum !== undefined) parts.push(`> ${node.exclusiveMinimum}`);
  if (node.maximum !== undefined) parts.push(`≤ ${node.maximum}`);
  if (node.exclusiveMaximum !== undefined) parts.push(`< ${node.exclusiveMaximum}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function defaultOf(node: Node): string {
  if (node.default === undefined) return '—';
  if (typeof node.default === 'object' && node.default !== null) {
    const text = JSON.stringify(node.default);
    return text === '{}' ? '(see below)' : `\`${text}\``;
  }
  return `\`${String(node.default)}\``;
}

function rows(properties: Record<string, Node>, prefix: string): string[] {
  return Object.entries(properties).flatMap(([key, node]) => {
    const name = `${prefix}${key}`;
    const own = `| \`${name}\` | ${typeOf(node)}${rangeOf(node)} | ${defaultOf(node)} | ${cell(node.description ?? '')} |`;
    return node.properties ? [own, ...rows(node.properties, `${name}.`)] : [own];
  });
}

/** `docs/configuration.md`: every key of `.github/skill-optimizer.yml`, from the config schema. */
export function renderConfigDocs(): string {
  const schema = configJsonSchema() as Node;
  return [
    '# Configuration',
    '',
    '<!-- Generated from the config schema by `npx tsx scripts/gen-schema.ts`; a test keeps it fresh. -->',
    '',
    'Skill Optimizer reads `.github/skill-optimizer.yml` from the repository (the Action input',
    '`config-path` names another file). Every key is optional; an unknown key or a wrong value is an',
    'error naming the file, the key and the line. Editors can complete and check the file with the',
    'JSON Schema in `schema/skill-optimizer.schema.json`.',
    '',
    '```yaml',
    'models:',
    '  executor: claude-sonnet-4-6',
    '  bench: [claude-sonnet-4-6, claude-haiku-4-5]',
    'trials: 5',
    'preset: thorough',
    'budget_usd: 20',
    '```',
    '',
    'How `confidence`, `max_error_rate`, `max_extra_trials`, `k` and `budget_usd` shape a verdict is',
    'explained in [decision-rule.md](decision-rule.md); `sandbox` in [security.md](security.md).',
    '',
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows(schema.properties ?? {}, ''),
    '',
  ].join('\n');
}
