/**
 * Untrusted text made inert inside a bot-written markdown line: one line, bounded, no HTML (so no
 * comment can be opened or closed), no @-mentions, no code-span breaks.
 */
export function escapeInline(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const short = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return short
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@/g, '&#64;')
    .replace(/`/g, "'");
}
