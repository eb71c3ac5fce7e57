import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';

/**
 * A request's replay key: a hash of what the model was asked (model, system prompt, tools and the
 * conversation so far) with the parts that change from one run of the same work to the next
 * masked: commit hashes, timestamps and temporary folder names. `--record` keys every recorded
 * answer by it; a replay answers a request whose digest is equal, so a recorded run is matched
 * turn by turn, and trials that took different paths stay on their own paths.
 */

const HEX_RUN = /\b[0-9a-f]{7,64}\b/g;
const TIMESTAMP = /\b\d{4}-\d\d-\d\d[T ]\d\d[:-]\d\d(?:[:-]\d\d(?:\.\d+)?)?Z?\b/g;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The text with volatile parts replaced by fixed markers. */
export function maskVolatile(text: string, tempRoots: readonly string[] = [tmpdir()]): string {
  let out = text;
  for (const root of tempRoots) {
    // A folder made under the temp root: its random name (and the root) vary between runs.
    out = out.replace(new RegExp(`${escapeRegex(root)}/[^/\\s"'\`]+`, 'g'), '<tmp>');
  }
  return out.replace(TIMESTAMP, '<time>').replace(HEX_RUN, '<hex>');
}

/** What a request asked, as text: the model, the `system` field, tool names, each message's role and text. */
export interface AskedText {
  model: string;
  system: string;
  tools: string[];
  messages: Array<[role: string, text: string]>;
}

export function requestDigest(asked: AskedText, tempRoots: readonly string[] = [tmpdir()]): string {
  const text = JSON.stringify([asked.model, asked.system, asked.tools, asked.messages]);
  return createHash('sha256').update(maskVolatile(text, tempRoots)).digest('hex');
}
