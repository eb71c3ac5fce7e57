/**
 * Strings distinctive to the probes, and where they turn up in text the optimizer side writes.
 *
 * Steps 7–9 never see held-out probes, and an improvement must not chase the visible ones.
 * A model's own word for that ("respected", "no probe-specific content") is not
 * evidence, so the tool looks for the probes' literals itself: ids, versions, dates, URLs and
 * owner/repo fragments, file names, long numbers, quoted strings and unusual 4-word runs.
 * A string that also occurs in the background (the original skill, the intent, step 1's report)
 * is not distinctive and is dropped; so is prose made of common English words.
 *
 * Decisions:
 * - numbers: 3 or more digits; a 4-digit number from 1900 to 2099 alone is a year and not kept
 *   (whole dates such as 2026-10-09 are kept, as kind `date`);
 * - versions: x.y.z (optionally `v`-prefixed, pre-release suffix kept); stored without the `v`,
 *   matched with or without it; x.y alone is too often a decimal;
 * - ids: `#123` references, and tokens of 6 characters or more that are snake_case, camelCase,
 *   mix letters and digits, or kebab-case with two hyphens or more (one hyphen is ordinary
 *   English: well-known, follow-up); the probe's own `<functionality>/<probe>` id;
 * - n-grams: 4 consecutive words, case and punctuation ignored, kept only when two of the words
 *   are neither stop words nor words of the background;
 * - graders are code: only their string literals count, never identifiers.
 * A literal a visible probe also holds, in any form, is visible (the analyst may see it).
 */

export type LiteralKind =
  | 'id'
  | 'version'
  | 'date'
  | 'url'
  | 'file'
  | 'number'
  | 'quoted'
  | 'ngram';

/** One file of one probe, as text. `code` marks a grader: only its string literals are read. */
export interface ProbeText {
  /** `<functionality>/<probe>` */
  probe: string;
  heldout: boolean;
  /** Run-dir path of the file the text came from. */
  file: string;
  text: string;
  code?: boolean;
}

export interface ProbeLiteral {
  text: string;
  kind: LiteralKind;
  probe: string;
  heldout: boolean;
  /** The probe file it was first found in. */
  file: string;
}

export interface LiteralFinding {
  literal: string;
  kind: LiteralKind;
  probe: string;
  heldout: boolean;
  where: { file: string; line: number };
}

const NGRAM = 4;
const MIN_DISTINCT_WORDS = 2;
/** Shorter tokens (utf-8, mp4, h264) are too common to pin on a probe. */
const MIN_ID_CHARS = 6;

/** Common English words: an n-gram needs words beyond these (and beyond the skill's) to count. */
const STOP_WORDS = new Set(
  `a about above after again against all also am an and any are as at be because been before
  being below between both but by can could did do does doing done down during each either else
  every few for from further get gets got had has have having he her here hers him his how i if
  in into is it its just let like make makes many may me might more most must my new no nor not
  now of off on once one only or other our ours out over own per please same she should since so
  some such than that the their them then there these they this those through to too two under
  until up upon us use used using very was we were what when where which while who whom why will
  with within without would yes yet you your yours first last next today tomorrow yesterday
  add added adds change changed changes check file files fix fixed fixes line lines make need
  needs note put read set show sure keep kept take tell update updated write written run see
  section sections entry entries text task work thing things way part`.split(/\s+/),
);

/** File extensions a `name.ext` literal may have; others (`example.com`, `e.g`) are not files. */
const FILE_EXTENSIONS = new Set(
  `md markdown txt rst json jsonl yaml yml toml ini cfg conf env lock log csv tsv xml html htm css
  scss js mjs cjs jsx ts tsx mts cts py rb go rs java kt swift c h cc cpp hpp cs php sh bash zsh
  ps1 sql graphql proto pdf png jpg jpeg gif svg zip tar gz`.split(/\s+/),
);

const WEB_ADDRESS = /https?:\/\/[^\s<>()[\]"'`]+/g;
const DATE = /(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])/g;
const VERSION = /(?<![\w.])v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.]*)?)(?![\w]|\.\d)/g;
const FILE_NAME = /(?<![\w.-])([A-Za-z0-9_][\w.-]*\.([A-Za-z][A-Za-z0-9]{0,9}))(?![\w-])/g;
const REF = /(?<![\w&])#\d+(?!\d)/g;
const COMPOUND = /(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+(?![\w-])/g;
const CAMEL = /(?<![\w-])[a-z]+[A-Z][A-Za-z0-9]*(?![\w-])/g;
const WITH_DIGITS = /(?<![\w.-])(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}(?![\w.-])/g;
const NUMBER = /(?<![\w.,#-])\d{3,}(?![\w]|[.,:]\d)/g;
const QUOTED = /"([^"\n]{6,160})"|“([^”\n]{6,160})”|`([^`\n]{6,160})`/g;
const CODE_STRING = /'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`/g;
const WORD = /[\p{L}\p{N}]+(?:['’]\p{L}+)?/gu;

/** Joins pieces of text no n-gram may span (a paragraph break). */
const BREAK = '\n\n';
const TOKEN_PATTERNS = [
  WEB_ADDRESS,
  DATE,
  VERSION,
  FILE_NAME,
  REF,
  COMPOUND,
  CAMEL,
  WITH_DIGITS,
  NUMBER,
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isYear = (n: string) => /^(19|20)\d\d$/.test(n);
const words = (text: string) => (text.match(WORD) ?? []).map((w) => w.toLowerCase());

/** The string literals of a grader; template literals with substitutions are left out. */
function codeStrings(code: string): string {
  const out: string[] = [];
  for (const m of code.matchAll(CODE_STRING)) {
    const s = m[1] ?? m[2] ?? m[3] ?? '';
    if (!s.includes('${')) out.push(s.replace(/\\(.)/g, '$1'));
  }
  return out.join(BREAK);
}

type Candidate = { text: string; kind: LiteralKind };

/** owner/repo-like fragments of a URL's path: the first two segments. */
function urlFragments(url: string): string[] {
  const path = url.replace(/^https?:\/\/[^/]+\/?/, '').split(/[?#]/)[0] ?? '';
  const segments = path.split('/').filter((s) => s !== '');
  const [a, b] = segments;
  return a !== undefined && b !== undefined && /^[\w.-]+$/.test(a) && /^[\w.-]+$/.test(b)
    ? [`${a}/${b}`]
    : [];
}

/** Every single-string candidate of a text (n-grams are handled apart). */
function candidates(text: string): Candidate[] {
  const out: Candidate[] = [];
  const urls = [...text.matchAll(WEB_ADDRESS)].map((m) => m[0].replace(/[.,;:!?]+$/, ''));
  for (const url of urls) {
    out.push({ text: url, kind: 'url' });
    for (const f of urlFragments(url)) out.push({ text: f, kind: 'url' });
  }
  let rest = text.replace(WEB_ADDRESS, ' ');
  for (const m of rest.matchAll(DATE)) out.push({ text: m[0], kind: 'date' });
  rest = rest.replace(DATE, ' ');
  for (const m of rest.matchAll(VERSION)) out.push({ text: m[1] ?? '', kind: 'version' });
  rest = rest.replace(VERSION, ' ');
  for (const m of rest.matchAll(FILE_NAME)) {
    if (FILE_EXTENSIONS.has((m[2] ?? '').toLowerCase()))
      out.push({ text: m[1] ?? '', kind: 'file' });
  }
  rest = rest.replace(FILE_NAME, ' ');
  for (const m of rest.matchAll(REF)) out.push({ text: m[0], kind: 'id' });
  for (const m of rest.matchAll(COMPOUND)) {
    const id = m[0];
    const marked = id.includes('_') || /\d/.test(id) || (id.match(/-/g)?.length ?? 0) >= 2;
    if (marked && id.length >= MIN_ID_CHARS) {
      out.push({ text: id, kind: 'id' });
    }
  }
  for (const m of rest.matchAll(CAMEL)) {
    if (m[0].length >= MIN_ID_CHARS) out.push({ text: m[0], kind: 'id' });
  }
  for (const m of rest.matchAll(WITH_DIGITS)) out.push({ text: m[0], kind: 'id' });
  for (const m of rest.matchAll(NUMBER))
    if (!isYear(m[0])) out.push({ text: m[0], kind: 'number' });
  for (const m of text.matchAll(QUOTED)) {
    const q = (m[1] ?? m[2] ?? m[3] ?? '').trim();
    if (/\s/.test(q)) out.push({ text: q, kind: 'quoted' });
  }
  return out;
}

/** How a single-string literal is found: whole, not as part of a longer token. */
function pattern(text: string, kind: LiteralKind): RegExp {
  const body = escapeRegExp(text);
  switch (kind) {
    case 'version':
      return new RegExp(`(?<![\\w.])v?${body}(?![\\w]|\\.\\d)`);
    case 'number':
      return new RegExp(`(?<![\\w.,])${body}(?![\\w]|[.,:]\\d)`);
    case 'id':
      return text.startsWith('#')
        ? new RegExp(`(?<![\\w&])${body}(?!\\d)`)
        : new RegExp(`(?<![\\w-])${body}(?![\\w-])`);
    case 'url':
      return new RegExp(`(?<![\\w.-])${body}(?![\\w-])`);
    case 'quoted':
      return new RegExp(body);
    default:
      return new RegExp(`(?<![\\w.-])${body}(?![\\w-])`);
  }
}

/** Background text a literal must not occur in, with its word vocabulary and n-grams. */
interface Background {
  texts: string[];
  vocabulary: Set<string>;
  ngrams: Set<string>;
}

function background(texts: readonly string[]): Background {
  const vocabulary = new Set<string>();
  const ngrams = new Set<string>();
  for (const text of texts) {
    const ws = words(text);
    for (const w of ws) vocabulary.add(w);
    for (let i = 0; i + NGRAM <= ws.length; i++) ngrams.add(ws.slice(i, i + NGRAM).join(' '));
  }
  return { texts: [...texts], vocabulary, ngrams };
}

const distinctive = (w: string, bg: Background) => !STOP_WORDS.has(w) && !bg.vocabulary.has(w);

/** Runs of words, split at paragraphs and at every token another kind already covers. */
function ngramCandidates(text: string, bg: Background): string[] {
  const out: string[] = [];
  const prose = TOKEN_PATTERNS.reduce((t, re) => t.replace(re, BREAK), text);
  for (const run of prose.split(/\n\s*\n/)) {
    const ws = words(run);
    for (let i = 0; i + NGRAM <= ws.length; i++) {
      const gram = ws.slice(i, i + NGRAM);
      const key = gram.join(' ');
      if (bg.ngrams.has(key) || gram.some((w) => /^\d+$/.test(w))) continue;
      if (gram.filter((w) => distinctive(w, bg)).length >= MIN_DISTINCT_WORDS) out.push(key);
    }
  }
  return out;
}

/**
 * The literals distinctive to the probes: found in a probe's text and nowhere in the background
 * (the original skill and other text the optimizer side may legitimately repeat).
 */
export function collectProbeLiterals(
  probes: readonly ProbeText[],
  backgroundTexts: readonly string[],
): ProbeLiteral[] {
  const bg = background(backgroundTexts);
  const found = new Map<string, ProbeLiteral>();
  const add = (text: string, kind: LiteralKind, source: ProbeText) => {
    const key = `${kind}\u0000${text}`;
    const known = found.get(key);
    if (known !== undefined) {
      if (known.heldout && !source.heldout) {
        found.set(key, { ...known, probe: source.probe, heldout: false, file: source.file });
      }
      return;
    }
    if (kind !== 'ngram') {
      const re = pattern(text, kind);
      if (bg.texts.some((t) => re.test(t))) return;
      if (kind === 'quoted' && words(text).every((w) => !distinctive(w, bg))) return;
    }
    found.set(key, { text, kind, probe: source.probe, heldout: source.heldout, file: source.file });
  };
  for (const source of probes) {
    const text = source.code === true ? codeStrings(source.text) : source.text;
    const [functionality, name] = source.probe.split('/');
    if (functionality !== undefined && name !== undefined) {
      add(source.probe, 'id', source);
      if ((name.match(/-/g)?.length ?? 0) >= 2 || /[_\d]/.test(name)) add(name, 'id', source);
    }
    for (const c of candidates(text)) if (c.text !== '') add(c.text, c.kind, source);
    for (const gram of ngramCandidates(text, bg)) add(gram, 'ngram', source);
  }
  const visible = probes
    .filter((p) => !p.heldout)
    .map((p) => ({ source: p, words: ` ${words(p.text).join(' ')} ` }));
  return [...found.values()].map((literal) => seenInVisible(literal, visible) ?? literal);
}

/**
 * A held-out literal that a visible probe also holds, in any form (inside a URL, a grader's
 * code), is no evidence of a leak: it comes back as that visible probe's literal.
 */
function seenInVisible(
  literal: ProbeLiteral,
  visible: ReadonlyArray<{ source: ProbeText; words: string }>,
): ProbeLiteral | null {
  if (!literal.heldout) return null;
  const re = literal.kind === 'ngram' ? null : pattern(literal.text, literal.kind);
  const holder = visible.find((v) =>
    re === null ? v.words.includes(` ${literal.text} `) : re.test(v.source.text),
  )?.source;
  return holder === undefined
    ? null
    : { ...literal, probe: holder.probe, heldout: false, file: holder.file };
}

/** The literals compiled once for scanning many texts. */
export interface LiteralIndex {
  exact: Array<{ literal: ProbeLiteral; re: RegExp }>;
  ngrams: Map<string, ProbeLiteral>;
}

export function indexLiterals(literals: readonly ProbeLiteral[]): LiteralIndex {
  const exact: LiteralIndex['exact'] = [];
  const ngrams = new Map<string, ProbeLiteral>();
  for (const literal of literals) {
    if (literal.kind === 'ngram') ngrams.set(literal.text, literal);
    else exact.push({ literal, re: pattern(literal.text, literal.kind) });
  }
  return { exact, ngrams };
}

/** A run of consecutive lines of one file; n-grams may span lines within it. */
interface Block {
  file: string;
  lines: Array<{ line: number; text: string }>;
}

const finding = (literal: ProbeLiteral, file: string, line: number): LiteralFinding => ({
  literal: literal.text,
  kind: literal.kind,
  probe: literal.probe,
  heldout: literal.heldout,
  where: { file, line },
});

function scanBlocks(blocks: readonly Block[], index: LiteralIndex): LiteralFinding[] {
  const out: LiteralFinding[] = [];
  for (const block of blocks) {
    for (const { line, text } of block.lines) {
      const hits = index.exact.filter(({ re }) => re.test(text)).map(({ literal }) => literal);
      // a literal inside a longer one found on the same line (a URL's owner/repo) adds nothing
      for (const hit of hits) {
        if (
          hits.some(
            (h) => h !== hit && h.text.length > hit.text.length && h.text.includes(hit.text),
          )
        )
          continue;
        out.push(finding(hit, block.file, line));
      }
    }
    if (index.ngrams.size === 0) continue;
    const tokens = block.lines.flatMap(({ line, text }) => words(text).map((w) => ({ w, line })));
    const seen = new Set<string>();
    for (let i = 0; i + NGRAM <= tokens.length; i++) {
      const key = tokens
        .slice(i, i + NGRAM)
        .map((t) => t.w)
        .join(' ');
      const literal = index.ngrams.get(key);
      if (literal === undefined || seen.has(key)) continue;
      seen.add(key);
      out.push(finding(literal, block.file, tokens[i]?.line ?? 0));
      i += NGRAM - 1; // the overlapping n-grams of one copied run add nothing
    }
  }
  return out;
}

/** Probe literals in a text (a report), with 1-based line numbers. */
export function scanText(text: string, file: string, index: LiteralIndex): LiteralFinding[] {
  const lines = text.split(/\r?\n/).map((t, i) => ({ line: i + 1, text: t }));
  return scanBlocks([{ file, lines }], index);
}

/**
 * Probe literals on the ADDED lines of a unified diff, each located by its file (as in the `+++`
 * header) and its line number in the new file. Consecutive added lines form one block.
 */
export function scanDiffAdditions(diff: string, index: LiteralIndex): LiteralFinding[] {
  const blocks: Block[] = [];
  let file = '';
  let next = 0;
  let current: Block | null = null;
  for (const raw of diff.split(/\r?\n/)) {
    if (raw.startsWith('+++ ')) {
      file = raw.slice(4).trim().replace(/^b\//, '');
      current = null;
      continue;
    }
    if (raw.startsWith('--- ')) {
      current = null;
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk?.[1] !== undefined) {
      next = Number(hunk[1]);
      current = null;
      continue;
    }
    if (raw.startsWith('+')) {
      if (current === null) {
        current = { file, lines: [] };
        blocks.push(current);
      }
      current.lines.push({ line: next, text: raw.slice(1) });
      next += 1;
    } else {
      current = null;
      if (raw.startsWith(' ')) next += 1;
    }
  }
  return scanBlocks(blocks, index);
}

const A_KIND: Record<LiteralKind, string> = {
  id: 'an id',
  version: 'a version',
  date: 'a date',
  url: 'a URL',
  file: 'a file name',
  number: 'a number',
  quoted: 'a quoted string',
  ngram: 'a phrase',
};

/** One finding as a line for reports and prompts; a held-out one never repeats its literal. */
export function describeFinding(f: LiteralFinding): string {
  const at = `${f.where.file}:${f.where.line}`;
  return f.heldout
    ? `${A_KIND[f.kind]} of a held-out probe at ${at}`
    : `\`${f.literal}\` (${f.kind}) from visible probe ${f.probe}, at ${at}`;
}
