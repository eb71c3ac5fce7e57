import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InvalidFileError } from '../errors.js';
import { validateParsed } from '../text/yaml-file.js';
import { splitFrontmatter } from './frontmatter.js';
import type { Skill } from './types.js';

const requiredText = (field: string) =>
  z
    .string({
      error: (iss) =>
        iss.input === undefined ? 'is required' : `expected ${field} to be a string`,
    })
    .trim()
    .min(1, { error: 'must not be empty' });

/** SKILL.md frontmatter: `name` and `description` are required, other keys are kept as they are. */
export const skillFrontmatterSchema = z.looseObject(
  {
    name: requiredText('name'),
    description: requiredText('description'),
  },
  { error: 'the frontmatter must be a YAML mapping (key: value lines)' },
);

/** The SKILL.md parts, before the folder is known. */
export type ParsedSkillMarkdown = Pick<
  Skill,
  'name' | 'description' | 'frontmatter' | 'body' | 'raw'
>;

/** Parses SKILL.md text; `file` is the name used in error messages. */
export function parseSkillMarkdown(text: string, file: string): ParsedSkillMarkdown {
  const doc = splitFrontmatter(text, file, 'YAML with `name` and `description`');
  const data = validateParsed(skillFrontmatterSchema, doc.parsed, file);
  return {
    name: data.name,
    description: data.description,
    frontmatter: { ...(doc.value as Record<string, unknown>), ...data },
    body: doc.body,
    raw: text,
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) =>
      path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
    )
    .filter((rel) => rel !== 'SKILL.md')
    .sort();
}

/** Loads a skill folder: SKILL.md frontmatter and body, plus the list of its other files. */
export async function loadSkill(dir: string): Promise<Skill> {
  const absDir = path.resolve(dir);
  const file = path.join(dir, 'SKILL.md');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidFileError(file, 'SKILL.md is missing: a skill folder needs one');
    }
    throw error;
  }
  const parsed = parseSkillMarkdown(text, file);
  return { dir: absDir, ...parsed, files: await listFiles(absDir) };
}
