import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PromptTemplateError, slotAt, slotText } from './slots.js';

/**
 * prompts/ at the package root, found by walking up from this module: it runs from src/prompts
 * (tsx), lib/cli (the built CLI) and dist/ (the bundled Action).
 */
const PROMPTS_DIR = findPromptsDir(dirname(fileURLToPath(import.meta.url)));

function findPromptsDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'prompts');
    if (existsSync(join(candidate, 'subagent-system.md'))) return candidate;
    if (dirname(dir) === dir) return join(start, '..', '..', 'prompts');
  }
}

export { PromptTemplateError };

const PLACEHOLDER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi;

/**
 * Fills `{{name}}` placeholders from `values`. Every placeholder must have a value and every
 * value must be used, so a template and its typed input cannot drift apart silently.
 * Where a placeholder sits decides what it takes (see slots.ts): data sections on a line of
 * their own, sanitised text inside a template's element or attribute, a bare token elsewhere —
 * so untrusted text never lands in instruction position. Values are never re-scanned.
 */
export function fillTemplate(
  template: string,
  values: Record<string, string>,
  name: string,
): string {
  const used = new Set<string>();
  const missing = new Set<string>();
  const out = template.replace(PLACEHOLDER, (match: string, key: string, index: number) => {
    const value = values[key];
    if (value === undefined) {
      missing.add(key);
      return '';
    }
    used.add(key);
    return slotText(slotAt(template, index, match, key), value, name);
  });
  if (missing.size > 0) {
    throw new PromptTemplateError(
      `prompt template '${name}' needs ${[...missing].map((k) => `{{${k}}}`).join(', ')} but no value was given`,
    );
  }
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) {
    throw new PromptTemplateError(
      `prompt template '${name}' has no placeholder for ${unused.join(', ')}`,
    );
  }
  return out;
}

const cache = new Map<string, string>();

export async function loadTemplate(name: string, dir = PROMPTS_DIR): Promise<string> {
  const file = join(dir, `${name}.md`);
  const hit = cache.get(file);
  if (hit !== undefined) return hit;
  const text = await readFile(file, 'utf8');
  cache.set(file, text);
  return text;
}

export async function renderPrompt(
  name: string,
  values: Record<string, string>,
  dir?: string,
): Promise<string> {
  return fillTemplate(await loadTemplate(name, dir), values, name);
}
