import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidFileError } from '../../errors.js';
import { parseYaml, validateParsed } from '../../text/yaml-file.js';
import { chaosSchema } from './chaos.js';
import { replySchema } from './reply-schema.js';

/**
 * The scripted model server's script: an ordered list of rules, the first whose conditions
 * all hold (and whose `times` is not used up) answers. Format documented in README.md.
 */

/** `/source/flags` → RegExp; anything else is not a regex literal. */
export function regexLiteral(value: string): RegExp | null {
  const m = /^\/(.+)\/([a-z]*)$/s.exec(value);
  if (!m) return null;
  return new RegExp(m[1] ?? '', m[2]);
}

function compiles(build: () => unknown): boolean {
  try {
    build();
    return true;
  } catch (error) {
    if (error instanceof SyntaxError) return false;
    throw error;
  }
}

const text = z.string().min(1);
/** One string, or a list that must all hold. */
const textList = z.union([text, z.array(text).min(1)]);
const count = z.int().positive();

const modelPattern = text.refine((v) => compiles(() => regexLiteral(v)), {
  message: 'invalid regular expression',
});
const regexSource = text.refine((v) => compiles(() => new RegExp(v)), {
  message: 'invalid regular expression',
});

const whenSchema = z.strictObject({
  /** Exact model id, or `/regex/flags`. */
  model: modelPattern.optional(),
  system_contains: textList.optional(),
  last_user_contains: textList.optional(),
  contains: textList.optional(),
  not_contains: textList.optional(),
  tool_offered: textList.optional(),
  tool_not_offered: textList.optional(),
  turn: z
    .union([count, z.strictObject({ min: count.optional(), max: count.optional() })])
    .optional(),
  /** Regex over the whole request text; named groups fill `{{name}}` in the reply. */
  matches: regexSource.optional(),
  /** Ordinals (1-based) of turn-1 requests of the same conversation key. */
  nth: z.array(count).min(1).optional(),
  /** The first `n` of every `of` turn-1 requests of the same conversation key. */
  every: z
    .strictObject({ n: count, of: count })
    .refine((e) => e.n <= e.of, { message: '`n` must not exceed `of`' })
    .optional(),
  /** The request's replay key (`requestDigest`): what `--record` keys each answer by. */
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'expected a 64-character hex sha256')
    .optional(),
  /** The bench trial the request belongs to (its `x-skill-optimizer-trial` header). */
  trial: text.optional(),
});

export const faultKindSchema = z.union([
  z.literal(429),
  z.literal(529),
  z.literal(500),
  z.literal('stall'),
  z.literal('malformed'),
]);
export type FaultKind = z.infer<typeof faultKindSchema>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*)\s*\}\}/g;
const NAMED_GROUP = /\(\?<([A-Za-z_][\w]*)>/g;

/** `{{name}}` placeholders used anywhere in a reply. */
function placeholdersOf(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  if (Array.isArray(value)) return value.flatMap(placeholdersOf);
  if (value !== null && typeof value === 'object')
    return Object.values(value).flatMap(placeholdersOf);
  return [];
}

const ruleSchema = z
  .strictObject({
    name: text.optional(),
    when: whenSchema.optional(),
    reply: replySchema.optional(),
    fault: faultKindSchema.optional(),
    /** How many requests this rule may answer; unlimited without it. */
    times: count.optional(),
    latency_ms: z.int().nonnegative().optional(),
    /** For `fault: 429`: the wait the server asks for (sent as retry-after and retry-after-ms). */
    retry_after_ms: z.int().nonnegative().optional(),
  })
  .superRefine((rule, ctx) => {
    if ((rule.reply === undefined) === (rule.fault === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs exactly one of `reply` or `fault`' });
    }
    // A rule keyed by `digest` was written by `--record`: a `{{name}}` that no group fills is
    // text the model wrote (a template), not a typo, and is sent as it is.
    if (rule.when?.digest !== undefined) return;
    const groups = new Set(
      [...(rule.when?.matches ?? '').matchAll(NAMED_GROUP)].map((m) => m[1] ?? ''),
    );
    for (const name of placeholdersOf(rule.reply)) {
      if (!groups.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['reply'],
          message: `placeholder {{${name}}} is not a named group of \`when.matches\``,
        });
      }
    }
  });

export const scriptSchema = z
  .strictObject({
    /** Default latency before the first byte of every answer. */
    latency_ms: z.int().nonnegative().optional(),
    /** Seeded disturbances of a share of the answers (see chaos.ts). */
    chaos: chaosSchema.optional(),
    rules: z.array(ruleSchema).min(1),
  })
  .superRefine((script, ctx) => {
    const seen = new Set<string>();
    script.rules.forEach((rule, i) => {
      if (rule.name === undefined) return;
      if (seen.has(rule.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: 'duplicate rule name',
        });
      }
      seen.add(rule.name);
    });
  });

export type Script = z.infer<typeof scriptSchema>;
export type Rule = Script['rules'][number];
export type RuleConditions = NonNullable<Rule['when']>;
export type { ReplyBlockSpec, ReplySpec } from './reply-schema.js';

/** Parses a script from YAML or JSON text; `file` names it in errors. */
export function parseScript(source: string, file: string): Script {
  return validateParsed(scriptSchema, parseYaml(source, file), file);
}

export async function loadScript(file: string): Promise<Script> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidFileError(file, `cannot read script: ${(error as Error).message}`);
  }
  return parseScript(source, file);
}

/** How a rule is named in recordings and errors: its `name`, else `rules[i]`. */
export function ruleLabel(script: Script, index: number): string {
  return script.rules[index]?.name ?? `rules[${index}]`;
}
