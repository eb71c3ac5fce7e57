import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';

/**
 * A request's replay key: a hash of what the model was asked (model, system prompt, tools and the
 * conversation so far) with the parts that change from one run of the same work to the next
 * masked: commit hashes, timestamps, today's date and temporary folder names. `--record` keys
 * every recorded answer by it; a replay answers a request whose digest is equal, so a recorded
 * run is matched turn by turn, and trials that took different paths stay on their own paths.
 */

const HEX_RUN = /\b[0-9a-f]{7,64}\b/g;
const TIMESTAMP = /\b\d{4}-\d\d-\d\d[T ]\d\d[:-]\d\d(?:[:-]\d\d(?:\.\d+)?)?Z?\b/g;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface VolatileParts {
  /** Folders whose children are made fresh each run (the OS temp folder). */
  tempRoots: readonly string[];
  /** Today's date, `YYYY-MM-DD` (UTC and local): agents are told it (Claude Code is). */
  today: readonly string[];
}

function isoDate(d: Date, local: boolean): string {
  const parts = local
    ? [d.getFullYear(), d.getMonth() + 1, d.getDate()]
    : [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  return parts.map((n, i) => String(n).padStart(i === 0 ? 4 : 2, '0')).join('-');
}

/** The parts of this machine and day that vary between a recording and its replay. */
export function currentVolatileParts(now: Date = new Date()): VolatileParts {
  return { tempRoots: [tmpdir()], today: [isoDate(now, false), isoDate(now, true)] };
}

/** Folders made directly under a temp root that `text` names, longest first. */
export function tempFoldersIn(text: string, tempRoots: readonly string[]): string[] {
  const folders = new Set<string>();
  for (const root of tempRoots) {
    for (const m of text.matchAll(new RegExp(`${escapeRegex(root)}/[^/\\s"'\`\\\\]+`, 'g'))) {
      folders.add(m[0]);
    }
  }
  return [...folders].sort((a, b) => b.length - a.length);
}

/**
 * A regex source matching `folder` made afresh: `mkdtemp` ends a name with 6 random characters,
 * so those match any letters and digits; any other name matches only itself.
 */
export function freshFolderPattern(folder: string): string {
  const m = /^(.*[-_.])[A-Za-z0-9]{6}$/.exec(folder);
  return m === null ? escapeRegex(folder) : `${escapeRegex(m[1] ?? '')}[A-Za-z0-9]{6}`;
}

/** The text with volatile parts replaced by fixed markers. */
export function maskVolatile(text: string, parts: VolatileParts = currentVolatileParts()): string {
  // A folder made under a temp root: its random name (and the root) vary between runs. Claude
  // Code also names its project folder after the working directory, every non-alphanumeric
  // character a dash (`-tmp-trials-aT66zY-probe`), so each such path is masked in that form too.
  let out = text;
  for (const folder of tempFoldersIn(text, parts.tempRoots)) {
    out = out.replaceAll(folder, '<tmp>').replaceAll(folder.replace(/[^A-Za-z0-9]/g, '-'), '<tmp>');
  }
  out = out.replace(TIMESTAMP, '<time>');
  for (const day of parts.today) out = out.replaceAll(day, '<today>');
  return out.replace(HEX_RUN, '<hex>');
}

/** What a request asked, as text: the model, the `system` field, tool names, each message's role and text. */
export interface AskedText {
  model: string;
  system: string;
  tools: string[];
  messages: Array<[role: string, text: string]>;
}

export function requestDigest(
  asked: AskedText,
  parts: VolatileParts = currentVolatileParts(),
): string {
  const text = JSON.stringify([asked.model, asked.system, asked.tools, asked.messages]);
  return createHash('sha256').update(maskVolatile(text, parts)).digest('hex');
}
