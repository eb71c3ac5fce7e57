import { escapeMarkdownLine } from '../text/escape-markdown.js';

/**
 * Untrusted text made inert inside a bot-written markdown line: one line, bounded, secrets
 * redacted, no HTML, no @-mentions, no links, no code-span breaks (see text/escape-markdown.ts).
 * For a value shown as code, use `codeSpan` from the same module instead.
 */
export function escapeInline(text: string, max = 200): string {
  return escapeMarkdownLine(text, max);
}
