import { fromMarkdown } from 'mdast-util-from-markdown';
import { INVISIBLE_MARK, markInvisible, sanitizeUntrusted } from '../text/sanitize.js';

/**
 * Where a comment holds a command, decided on the comment as GitHub renders it (CommonMark, via
 * mdast-util-from-markdown): only the first line of a top-level paragraph can be a command. Text
 * in fenced or indented code, quotes, list items, headings and HTML blocks never is.
 *
 * The comment is cleaned first, without making anything look like a command that a reader does
 * not see as one: HTML comments are removed (they are not shown), but invisible, zero-width,
 * bidirectional and control characters are replaced by a visible mark, not deleted. So
 * `\u200b/optimize` and `/opti\u200bmize` are not commands. The text after the prefix is returned
 * sanitised (marks and hidden characters removed).
 */

/** The part of the mdast tree read here (mdast `Root`: its top-level blocks and their offsets). */
interface BlockTree {
  children: ReadonlyArray<{ type: string; position?: { start: { offset?: number } } }>;
}

/** The text after `prefix` up to the end of the comment, or null when no paragraph starts so. */
export function commandAfter(body: string, prefix: string): string | null {
  const text = sanitizeUntrusted(markInvisible(body));
  const tree: BlockTree = fromMarkdown(text);
  for (const block of tree.children) {
    const start = block.position?.start.offset;
    if (block.type !== 'paragraph' || start === undefined) continue;
    const line = text.slice(start).replace(/^[ \t]+/, '');
    if (line.slice(0, prefix.length).toLowerCase() !== prefix) continue;
    const rest = line.slice(prefix.length);
    if (rest !== '' && !/^\s/.test(rest)) continue; // `/optimizer`, `/optimize!`
    // Removing the marks can join `<!` and `--`: sanitise again.
    return sanitizeUntrusted(rest.replaceAll(INVISIBLE_MARK, ''));
  }
  return null;
}
