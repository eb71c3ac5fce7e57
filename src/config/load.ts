import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Document, type LineCounter, visit, type YAMLError } from 'yaml';
import { InvalidFileError } from '../errors.js';
import { formatFieldPath, parseCoreDocument } from '../text/yaml-file.js';
import { type ConfigProblem, toConfigProblems } from './issues.js';
import { type Config, configSchema, defaultConfig } from './schema.js';
import { type Position, positionOf } from './yaml-position.js';

/** Where the repository config lives, relative to the repository root. */
export const CONFIG_PATH = '.github/skill-optimizer.yml';
/** A config is a few dozen lines; anything near this size is not one. */
export const MAX_CONFIG_BYTES = 100_000;
/** Alias expansions allowed while building the value (a "billion laughs" file hits this). */
const MAX_ALIAS_COUNT = 100;
/** Problems listed in one error; the rest are counted. */
const MAX_LISTED = 20;

interface Located {
  position: Position;
  text: string;
}

/**
 * One error for every problem, each line `file:line:col: field: message`, sorted by position.
 * `InvalidFileError.file` carries the first problem's `file:line:col`.
 */
function fail(file: string, problems: Located[]): never {
  const sorted = [...problems].sort(
    (a, b) => a.position.line - b.position.line || a.position.col - b.position.col,
  );
  const entries = sorted.slice(0, MAX_LISTED).map(({ position, text }) => ({
    where: `${file}:${position.line}:${position.col}`,
    text,
  }));
  const [head = { where: file, text: 'invalid config' }, ...rest] = entries;
  const lines = [head.text, ...rest.map(({ where, text }) => `${where}: ${text}`)];
  if (sorted.length > MAX_LISTED) lines.push(`… and ${sorted.length - MAX_LISTED} more problems`);
  throw new InvalidFileError(head.where, lines.join('\n'));
}

function yamlProblemText(problem: YAMLError): string {
  const message = problem.message.split('\n')[0] ?? problem.code;
  switch (problem.code) {
    case 'TAG_RESOLVE_FAILED':
      return `unsupported tag ${message.replace(/^Unresolved tag: /, '').replace(/^tag:yaml\.org,2002:/, '!!')}; only plain YAML values are allowed`;
    case 'MULTIPLE_DOCS':
      return 'only one YAML document is allowed (remove the second `---`)';
    case 'DUPLICATE_KEY':
      return 'duplicate key';
    default:
      return message;
  }
}

function parseYaml(text: string, file: string): { doc: Document; lineCounter: LineCounter } {
  const { doc, lineCounter } = parseCoreDocument(text);
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    fail(
      file,
      problems.map((problem) => ({
        position: lineCounter.linePos(problem.pos[0]),
        text: yamlProblemText(problem),
      })),
    );
  }
  return { doc, lineCounter };
}

function firstAliasPosition(doc: Document, lineCounter: LineCounter): Position {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return lineCounter.linePos(offset);
}

function toValue(doc: Document, lineCounter: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml signals alias abuse (and only that) with a ReferenceError.
    if (!(error instanceof ReferenceError)) throw error;
    fail(file, [
      {
        position: firstAliasPosition(doc, lineCounter),
        text: `too many alias expansions (${error.message})`,
      },
    ]);
  }
}

/**
 * Parses and validates the text of `.github/skill-optimizer.yml`; `file` names it in errors.
 * An empty document (or one holding only comments) yields every default.
 */
export function parseConfig(text: string, file: string): Config {
  const { doc, lineCounter } = parseYaml(text, file);
  const value = doc.contents === null ? {} : (toValue(doc, lineCounter, file) ?? {});
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const located = toConfigProblems(result.error.issues, value).map((problem: ConfigProblem) => {
    const field = formatFieldPath(problem.path);
    return {
      position: positionOf(doc, lineCounter, problem.path, problem.target),
      text: field === '' ? problem.message : `${field}: ${problem.message}`,
    };
  });
  fail(file, located);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * The repository's config: `.github/skill-optimizer.yml` under `repoDir` if it exists, else
 * every default. The file must be a regular file (a symlink could point outside the checkout).
 */
export async function loadConfig(repoDir: string): Promise<Config> {
  const path = join(repoDir, CONFIG_PATH);
  const stat = await lstat(path).catch((error: unknown) => {
    if (isMissing(error)) return null;
    throw error;
  });
  if (stat === null) {
    const misnamed = await lstat(join(repoDir, '.github/skill-optimizer.yaml')).catch(
      (error: unknown) => {
        if (isMissing(error)) return null;
        throw error;
      },
    );
    if (misnamed !== null) {
      throw new InvalidFileError(
        '.github/skill-optimizer.yaml',
        `not read: rename it to ${CONFIG_PATH}`,
      );
    }
    return defaultConfig();
  }
  if (!stat.isFile()) throw new InvalidFileError(CONFIG_PATH, 'must be a regular file');
  if (stat.size > MAX_CONFIG_BYTES) {
    throw new InvalidFileError(
      CONFIG_PATH,
      `is ${stat.size} bytes; the limit is ${MAX_CONFIG_BYTES}`,
    );
  }
  return parseConfig(await readFile(path, 'utf8'), CONFIG_PATH);
}
