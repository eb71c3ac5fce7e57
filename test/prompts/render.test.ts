import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fillTemplate, PromptTemplateError, renderPrompt } from '../../src/prompts/render.js';

describe('fillTemplate', () => {
  it('fills every placeholder and never re-scans inserted values', () => {
    expect(fillTemplate('a\n{{x}}\nb {{ y }}', { x: '(see {{y}})', y: '2' }, 't')).toBe(
      'a\n(see {{y}})\nb 2',
    );
  });

  it('refuses a placeholder without a value, naming it', () => {
    expect(() => fillTemplate('{{x}} {{z}}', { x: '1' }, 'role')).toThrow(
      new PromptTemplateError("prompt template 'role' needs {{z}} but no value was given"),
    );
  });

  it('refuses a value without a placeholder, so inputs cannot silently drift', () => {
    expect(() => fillTemplate('n={{x}}', { x: '1', extra: '2' }, 'role')).toThrow(
      "prompt template 'role' has no placeholder for extra",
    );
  });
});

describe('prompts/', () => {
  it('renders a role template from the package prompts folder', async () => {
    expect(await renderPrompt('subagent-system', {})).toContain('<untrusted_data>');
  });

  it('has one template per subagent role', async () => {
    const files = await readdir(join(import.meta.dirname, '..', '..', 'prompts'));
    for (const role of [
      'functionality',
      'submissions',
      'test-designer',
      'test-writer',
      'test-validator',
      'analyst',
      'optimizer',
      'validator',
      'reviewer',
    ]) {
      expect(files).toContain(`${role}.md`);
      const text = await readFile(
        join(import.meta.dirname, '..', '..', 'prompts', `${role}.md`),
        'utf8',
      );
      expect(text).toMatch(/\{\{[a-z_]+\}\}/);
    }
  });
});
