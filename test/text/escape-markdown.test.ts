import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeSpan, escapeMarkdown, escapeMarkdownLine } from '../../src/text/escape-markdown.js';
import { REDACTED } from '../../src/text/redact.js';

const ZWJ = '\u200D';
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;

interface Scan {
  prose: string;
  code: string[];
  /** Backtick runs in prose that no equal run closes (a later edit could pair them). */
  loose: number;
}

/**
 * Splits markdown the way CommonMark reads inline text, written independently of the escaper:
 * a backslash escapes the ASCII punctuation after it; a backtick run opens a code span only when
 * a run of the same length follows (inside which backslashes are literal).
 */
function scan(markdown: string): Scan {
  let prose = '';
  const code: string[] = [];
  let loose = 0;
  let i = 0;
  while (i < markdown.length) {
    const char = markdown[i] ?? '';
    if (char === '\\' && ASCII_PUNCTUATION.test(markdown[i + 1] ?? '')) {
      prose += ' ';
      i += 2;
      continue;
    }
    if (char !== '`') {
      prose += char;
      i += 1;
      continue;
    }
    let n = 0;
    while (markdown[i + n] === '`') n += 1;
    const rest = markdown.slice(i + n);
    const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`).exec(rest);
    if (close === null) {
      loose += 1;
      prose += ' ';
      i += n;
      continue;
    }
    code.push(rest.slice(0, close.index));
    prose += ' ';
    i += n + close.index + n;
  }
  return { prose, code, loose };
}

/** What GitHub would turn into a mention, HTML, a link or an autolink in prose. */
function activeMarkup(prose: string): string[] {
  const found: string[] = [];
  if (/</.test(prose)) found.push('raw <');
  if (/@[A-Za-z0-9]/.test(prose)) found.push('mention');
  if (/[[\]]/.test(prose)) found.push('link bracket');
  if (/:\/\//.test(prose)) found.push('autolink ://');
  if (/www\./i.test(prose)) found.push('autolink www.');
  if (/&#|&[a-z]+;/i.test(prose.replace(/&(amp|lt|gt);/g, ''))) found.push('entity');
  if (/^ {0,3}(~~~|```)/m.test(prose)) found.push('fence');
  return found;
}

describe('escapeMarkdown', () => {
  it.each([
    ['a mention', 'ping @octocat now', `ping @${ZWJ}octocat now`],
    ['a team mention', '@org/team', `@${ZWJ}org/team`],
    ['HTML', '<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    ['an HTML comment', 'a <!-- hidden --> b', 'a  b'],
    [
      'a markdown link',
      '[click](https://evil.example/x)',
      `\\[click\\](https:${ZWJ}//evil.example/x)`,
    ],
    ['an image', '![x](http://e.example/p.png)', `!\\[x\\](http:${ZWJ}//e.example/p.png)`],
    ['a www autolink', 'see www.evil.example', `see www${ZWJ}.evil.example`],
    ['an e-mail autolink', 'mail a@b.example', `mail a@${ZWJ}b.example`],
    ['an entity', '&#64;octocat &lt;', '&amp;#64;octocat &amp;lt;'],
    ['a tilde fence', '~~~\ncode', '\\~\\~\\~\ncode'],
    ['a backslash', 'a\\[b', 'a\\\\\\[b'],
    ['a lone backtick', 'it`s', 'it\\`s'],
  ])('neutralises %s', (_name, input, expected) => {
    expect(escapeMarkdown(input)).toBe(expected);
  });

  it('keeps code spans as code, re-fenced so nothing inside can close them', () => {
    expect(escapeMarkdown('use `a < b` and ``x ` y``')).toBe('use `a < b` and ``x ` y``');
    expect(escapeMarkdown('`@team <b>`')).toBe('`@team <b>`');
  });

  it('puts a code span on one line so a block cannot interrupt it', () => {
    expect(escapeMarkdown('`a\n# b`')).toBe('`a # b`');
  });

  it('keeps prose structure: line breaks, lists, emphasis', () => {
    expect(escapeMarkdown('**Plan**\n\n- one\n- _two_')).toBe('**Plan**\n\n- one\n- _two_');
  });

  it('redacts secrets before escaping', () => {
    const key = `sk-ant-api03-${'q'.repeat(40)}`;
    expect(escapeMarkdown(`key \`${key}\` and ${key}`)).toBe(
      `key \`${REDACTED}\` and \\[REDACTED\\]`,
    );
  });

  it('a model-chosen target cannot break out of the code span around it', () => {
    const target = 'x` @evil <img src=x onerror=alert(1)> [a](https://e.example) `y';
    const out = escapeMarkdown(`pointing to ${codeSpan(target)}. Optimise?`);
    const { prose, code, loose } = scan(out);
    expect(code).toEqual([target]);
    expect(activeMarkup(prose)).toEqual([]);
    expect(loose).toBe(0);
  });

  it('the same holds when the bot wrapped the target in plain backticks', () => {
    const target = 'x` @evil <img src=x> `';
    const out = escapeMarkdown(`pointing to \`${target}\`. Optimise?`);
    const { prose, loose } = scan(out);
    expect(activeMarkup(prose)).toEqual([]);
    expect(loose).toBe(0);
  });
});

describe('codeSpan', () => {
  it.each([
    ['plain', 'a b', '`a b`'],
    ['a backtick inside', 'a`b', '``a`b``'],
    ['a run of two', 'a``b`c', '```a``b`c```'],
    ['a leading backtick', '`x', '`` `x ``'],
    ['padded both sides', ' x ', '`  x  `'],
    ['empty', '', '` `'],
    ['line breaks', 'a\nb', '`a b`'],
  ])('fences %s', (_name, input, expected) => {
    expect(codeSpan(input)).toBe(expected);
  });
});

describe('escapeMarkdownLine', () => {
  it('collapses to one bounded line', () => {
    expect(escapeMarkdownLine('a\n\n  b @c', 200)).toBe(`a b @${ZWJ}c`);
    expect(escapeMarkdownLine('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('escapeMarkdown properties', () => {
  const tricky = fc.constantFrom(
    '`',
    '``',
    '\\',
    '<',
    '>',
    '&',
    '@',
    '[',
    ']',
    '(',
    ')',
    '~',
    '\n',
    ' ',
    'a',
    'user',
    '://',
    'www.',
    '#',
    '&#64;',
    '<!--',
    '-->',
  );
  const markdownish = fc
    .array(fc.oneof(tricky, fc.string()), { maxLength: 30 })
    .map((parts) => parts.join(''));

  it('escaped text has no raw <, working @user, link, autolink or loose backtick in its prose', () => {
    fc.assert(
      fc.property(markdownish, (text) => {
        const { prose, code, loose } = scan(escapeMarkdown(text));
        expect(activeMarkup(prose)).toEqual([]);
        expect(loose).toBe(0);
        for (const span of code) expect(span).not.toContain('\n');
      }),
      { numRuns: 1000 },
    );
  });

  it('a code span holds any text and is read back whole', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('`', 'a', ' ', '<', '@') }), (text) => {
        const out = codeSpan(text);
        const { prose, code, loose } = scan(out);
        expect(prose.trim()).toBe('');
        expect(loose).toBe(0);
        expect(code).toHaveLength(1);
      }),
      { numRuns: 500 },
    );
  });
});
