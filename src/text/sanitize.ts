/**
 * Cleaning of untrusted text (PR bodies, comments, skill files) before it reaches a model.
 *
 * Policy — everything here only deletes, except line-break normalisation:
 * - Line breaks: `\r\n`, a lone `\r`, U+2028 and U+2029 become `\n`.
 * - Control characters: C0 and C1 (U+0000–U+001F, U+007F–U+009F) are removed, except `\n`
 *   and `\t`.
 * - Invisible characters: every format character (general category Cf — soft hyphen, zero-width
 *   space/joiners, LRM/RLM, word joiner and invisible operators, BOM, Mongolian vowel separator,
 *   interlinear annotation marks, tag characters …); the rest of the tag block U+E0000–U+E007F;
 *   the combining grapheme joiner U+034F; Hangul fillers U+115F, U+1160, U+3164, U+FFA0; Khmer
 *   inherent vowels U+17B4, U+17B5; and unpaired surrogates (not encodable as UTF-8).
 * - Variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF, Mongolian U+180B–U+180D, U+180F) are
 *   removed too: runs of them can smuggle arbitrary bytes behind one visible character, and all
 *   a model loses is emoji/glyph presentation hints (❤️ reads as ❤).
 * - Bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+061C, U+200E, U+200F) are Cf and go
 *   with the invisible characters.
 * - HTML comments: from `<!--` to the first `-->` (CommonMark's `<!-->` and `<!--->` count as
 *   closed), or to the end of the text when unterminated. Removal is repeated on the result, so
 *   deleting one comment (or an invisible character) cannot assemble a new `<!--`.
 */

const LINE_BREAKS = /\r\n?|[\u2028\u2029]/g;

const CONTROLS = '\\0-\\x08\\x0B-\\x1F\\x7F-\\x9F';
const INVISIBLE =
  '\\p{Cf}\\p{Cs}\\u034F\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u3164\\uFFA0' +
  '\\uFE00-\\uFE0F\\u{E0000}-\\u{E007F}\\u{E0100}-\\u{E01EF}';
const REMOVED = new RegExp(`[${CONTROLS}${INVISIBLE}]`, 'gu');

const COMMENT_OPEN = '<!--';

/**
 * Drops HTML comments in one pass. Text is appended to `out` character by character; whenever
 * `out` ends in `<!--` that opener is taken back and everything up to the closing `-->` is
 * skipped. Because the check runs on the output, an opener assembled from pieces around a
 * deleted comment (`<<!-- x -->!-- hidden -->`) is caught as well.
 */
function stripHtmlComments(text: string): string {
  if (!text.includes('<')) return text;
  const out: string[] = [];
  let inComment = false;
  // The last two characters seen inside the comment, the opener's dashes included.
  let tail = '';
  for (const char of text) {
    if (inComment) {
      if (char === '>' && tail === '--') inComment = false;
      tail = tail.slice(-1) + char;
      continue;
    }
    out.push(char);
    const n = out.length;
    if (
      char === '-' &&
      n >= 4 &&
      out[n - 2] === '-' &&
      out[n - 3] === '!' &&
      out[n - 4] === COMMENT_OPEN[0]
    ) {
      out.length = n - 4;
      inComment = true;
      tail = '--';
    }
  }
  return out.join('');
}

/** What `markInvisible` puts where an invisible or control character was: U+FFFD, visible. */
export const INVISIBLE_MARK = '\uFFFD';

/**
 * Line breaks normalised as above, and every character the policy removes replaced by
 * `INVISIBLE_MARK` instead. For decisions about what text *is* (is this a command?): a deleted
 * zero-width character would make `\u200b/optimize` look like `/optimize`, which no reader sees.
 */
export function markInvisible(text: string): string {
  return text.replace(LINE_BREAKS, '\n').replace(REMOVED, INVISIBLE_MARK);
}

/** Untrusted text made safe to show a model: see the policy at the top of this file. */
export function sanitizeUntrusted(text: string): string {
  return stripHtmlComments(text.replace(LINE_BREAKS, '\n').replace(REMOVED, ''));
}

export const DATA_SECTION_TAG = 'untrusted_data';
export const DATA_SECTION_CLOSE = `</${DATA_SECTION_TAG}>`;

/** Any opening or closing data-section tag, however spaced or cased, inside the data. */
const SECTION_TAG_IN_DATA = new RegExp(`<(\\s*/?\\s*${DATA_SECTION_TAG})`, 'gi');

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\n\t]/g, ' ');
}

/**
 * Untrusted text sanitised and wrapped in a delimited block for a prompt:
 * `<untrusted_data label="…">\n…\n</untrusted_data>`. Tags of the same name inside the text
 * have their `<` escaped as `&lt;`, so the data cannot close its block or open a new one; the
 * output holds exactly one closing tag, at its end.
 */
export function dataSection(label: string, text: string): string {
  const body = sanitizeUntrusted(text).replace(SECTION_TAG_IN_DATA, '&lt;$1');
  const attribute = escapeAttribute(sanitizeUntrusted(label));
  const newline = body.endsWith('\n') ? '' : '\n';
  return `<${DATA_SECTION_TAG} label="${attribute}">\n${body}${newline}${DATA_SECTION_CLOSE}`;
}

/** Untrusted text sanitised and escaped to sit inside a double-quoted attribute of a tag. */
export function attributeValue(text: string): string {
  return escapeAttribute(sanitizeUntrusted(text));
}

/**
 * Untrusted text sanitised to sit between `<tag …>` and `</tag>` lines of a template: any opening
 * or closing `tag` inside it has its `<` escaped as `&lt;`, so it cannot end the element early.
 * `tag` is a tag name from a template (letters, digits, `_` and `-`).
 */
export function elementBody(tag: string, text: string): string {
  return sanitizeUntrusted(text).replace(
    new RegExp(`<(\\s*/?\\s*${tag})(?![a-z0-9_-])`, 'gi'),
    '&lt;$1',
  );
}
