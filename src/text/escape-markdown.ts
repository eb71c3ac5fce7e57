import { redactSecrets } from './redact.js';
import { sanitizeUntrusted } from './sanitize.js';

/**
 * Model-written (or otherwise untrusted) text made inert inside the bot's own GitHub markdown.
 * The text first has its secrets redacted and its invisible characters and HTML comments removed
 * (see sanitize.ts). Then it is split into code spans and prose, the way CommonMark pairs
 * backtick runs:
 *
 * - Code spans stay code spans, re-fenced with a backtick run longer than any inside them and
 *   put on one line, so nothing in them can close the span early or start a block.
 * - Prose keeps its words, line breaks, emphasis and lists, but:
 *   `&`, `<`, `>` become entities (no HTML, no comments that hide text, no entity tricks);
 *   `\`, `` ` ``, `[`, `]`, `~` are backslash-escaped (no code spans or fences of its own, no
 *   links, images or reference definitions);
 *   `@` is followed by a zero-width joiner (no mentions, no e-mail autolinks);
 *   `://` and `www.` get a zero-width joiner inside (GitHub does not autolink them), so a URL is
 *   shown as text, never as a link.
 *
 * The bot's own markup (tables, links, mentions it builds itself) is written around the escaped
 * text and keeps working.
 */

const ZWJ = '\u200D';

/** Characters escaped in prose, and what each becomes. */
const PROSE: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\\': '\\\\',
  '`': '\\`',
  '[': '\\[',
  ']': '\\]',
  '~': '\\~',
  '@': `@${ZWJ}`,
};

const PROSE_SPECIALS = /[&<>\\`[\]~@]/g;

function escapeProse(text: string): string {
  return text
    .replace(PROSE_SPECIALS, (char) => PROSE[char] ?? char)
    .replace(/:\/\//g, `:${ZWJ}//`)
    .replace(/www\./gi, (www) => `${www.slice(0, 3)}${ZWJ}.`);
}

/** An inline code span holding `text` verbatim (on one line), which nothing inside can close. */
export function codeSpan(text: string): string {
  const content = sanitizeUntrusted(redactSecrets(text)).replace(/\n/g, ' ');
  if (content === '') return '` `';
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad =
    content.startsWith('`') ||
    content.endsWith('`') ||
    (content.startsWith(' ') && content.endsWith(' ') && content.trim() !== '')
      ? ' '
      : '';
  return `${fence}${pad}${content}${pad}${fence}`;
}

type Segment = { kind: 'prose' | 'code'; text: string };

/** Prose and code spans as CommonMark pairs backtick runs (a run closes only at an equal run). */
function segments(text: string): Segment[] {
  const out: Segment[] = [];
  let prose = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '`') {
      const next = text.indexOf('`', i);
      const end = next === -1 ? text.length : next;
      prose += text.slice(i, end);
      i = end;
      continue;
    }
    let n = 0;
    while (text[i + n] === '`') n += 1;
    const close = findRun(text, i + n, n);
    if (close === -1) {
      prose += text.slice(i, i + n);
      i += n;
      continue;
    }
    if (prose !== '') out.push({ kind: 'prose', text: prose });
    prose = '';
    out.push({ kind: 'code', text: text.slice(i + n, close) });
    i = close + n;
  }
  if (prose !== '') out.push({ kind: 'prose', text: prose });
  return out;
}

/** Where the next run of exactly `n` backticks at or after `from` starts; -1 when none. */
function findRun(text: string, from: number, n: number): number {
  let i = from;
  while (i < text.length) {
    const start = text.indexOf('`', i);
    if (start === -1) return -1;
    let end = start;
    while (text[end] === '`') end += 1;
    if (end - start === n) return start;
    i = end;
  }
  return -1;
}

/** Untrusted text made safe to place in bot-written markdown: see the policy at the top. */
export function escapeMarkdown(text: string): string {
  const clean = sanitizeUntrusted(redactSecrets(text));
  return segments(clean)
    .map((segment) => {
      if (segment.kind === 'prose') return escapeProse(segment.text);
      const inner = segment.text.replace(/\n/g, ' ');
      // CommonMark drops one space each side of a padded span; keep what it would show.
      const shown = /^ .*[^ ].* $/s.test(inner) ? inner.slice(1, -1) : inner;
      return codeSpan(shown);
    })
    .join('');
}

/** escapeMarkdown on one line: whitespace collapsed, cut to `max` characters with an ellipsis. */
export function escapeMarkdownLine(text: string, max = 200): string {
  const line = sanitizeUntrusted(redactSecrets(text)).replace(/\s+/g, ' ').trim();
  const short = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return escapeMarkdown(short);
}
