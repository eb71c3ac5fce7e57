import { stringify } from 'yaml';
import type { z } from 'zod';
import { InvalidFileError } from '../errors.js';
import { parseYaml, validateParsed } from '../text/yaml-file.js';

// `---` line, YAML, `---` (or `...`) line, then the body. CRLF is accepted.
const FRONTMATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/m;

/** A markdown file's frontmatter (parsed, strict YAML) and its body. */
export interface FrontmatterDocument {
  value: unknown;
  parsed: ReturnType<typeof parseYaml>;
  body: string;
}

export function splitFrontmatter(text: string, file: string, hint: string): FrontmatterDocument {
  const match = FRONTMATTER.exec(text);
  if (match === null || match.index !== 0) {
    throw new InvalidFileError(
      file,
      `no frontmatter block: the file must start with a \`---\` line, ${hint}, and a closing \`---\` line`,
    );
  }
  const parsed = parseYaml(match[1] ?? '', file, 1);
  return { value: parsed.value, parsed, body: text.slice(match[0].length) };
}

/** Parses and validates a markdown file with frontmatter; errors name the file, field and line. */
export function parseFrontmatter<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
): { data: z.output<S>; body: string } {
  const doc = splitFrontmatter(text, file, 'YAML frontmatter');
  return { data: validateParsed(schema, doc.parsed, file), body: doc.body };
}

/** The inverse of parseFrontmatter. */
export function renderFrontmatter(data: Record<string, unknown>, body: string): string {
  const yaml = stringify(data, { lineWidth: 0 }).trimEnd();
  return `---\n${yaml}\n---\n\n${body.trimStart().trimEnd()}\n`;
}
