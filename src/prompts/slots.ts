import { SkillOptimizerError } from '../errors.js';
import {
  attributeValue,
  DATA_SECTION_CLOSE,
  DATA_SECTION_TAG,
  elementBody,
  sanitizeUntrusted,
} from '../text/sanitize.js';

/**
 * Where a placeholder sits in a template decides what it may be filled with, so text from a
 * skill, a pull request or a comment can reach a prompt only inside a delimited data section:
 *
 * - `sections` — the placeholder is alone on its line: the value is one or more
 *   `<untrusted_data>` sections (made by `dataSection`, so sanitised) and, between them,
 *   short operator notes: whole lines in parentheses, such as `(none)`.
 * - `element` — alone on its line between a `<tag …>` line and a `</tag>` line: the renderer
 *   sanitises the value and escapes any `tag` inside it, so the template's element delimits it.
 * - `attribute` — inside `name="…"`: the renderer sanitises and escapes the value.
 * - `token` — anywhere else, that is in instruction text: only a short token (an id, a number,
 *   a file name) with no spaces, so no sentence can stand where instructions are read.
 */
export type SlotKind = 'sections' | 'element' | 'attribute' | 'token';

export interface Slot {
  name: string;
  kind: SlotKind;
  /** The enclosing element's tag, for `element` slots. */
  tag?: string;
}

/** A template and the values given for it do not fit together; the message names both. */
export class PromptTemplateError extends SkillOptimizerError {}

const PLACEHOLDER_SOURCE = String.raw`\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}`;
const OPEN_TAG_LINE = /^<([a-z][a-z0-9_-]*)(?:\s[^<>]*)?>$/i;
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._/@%+-]{0,99}$/;
const NOTE_LINE = /^\([^<>\n]{0,100}\)$/;
const SECTION = new RegExp(
  `<${DATA_SECTION_TAG} label="([^"<>]*)">\\n([\\s\\S]*?)${DATA_SECTION_CLOSE}`,
  'g',
);
const SECTION_TAG = new RegExp(`<\\s*/?\\s*${DATA_SECTION_TAG}`, 'i');

/** The slot of the placeholder at `index` (its text `match`) in `template`. */
export function slotAt(template: string, index: number, match: string, name: string): Slot {
  const lineStart = template.lastIndexOf('\n', index - 1) + 1;
  const lineEnd = template.indexOf('\n', index);
  const line = template.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  if (line.trim() === match) {
    const before = template.slice(0, Math.max(0, lineStart - 1));
    const previous = before.slice(before.lastIndexOf('\n') + 1).trim();
    const after = lineEnd < 0 ? '' : template.slice(lineEnd + 1);
    const next = (after.split('\n', 1)[0] ?? '').trim();
    const tag = OPEN_TAG_LINE.exec(previous)?.[1];
    if (tag !== undefined && next.toLowerCase() === `</${tag.toLowerCase()}>`) {
      return { name, kind: 'element', tag };
    }
    return { name, kind: 'sections' };
  }
  if (template.slice(index - 2, index) === '="' && template[index + match.length] === '"') {
    return { name, kind: 'attribute' };
  }
  return { name, kind: 'token' };
}

/** Every placeholder occurrence of a template with its slot, in order. */
export function templateSlots(template: string): Slot[] {
  const slots: Slot[] = [];
  for (const m of template.matchAll(new RegExp(PLACEHOLDER_SOURCE, 'gi'))) {
    slots.push(slotAt(template, m.index, m[0], m[1] ?? ''));
  }
  return slots;
}

/** The text that fills `slot` of `template` with `value`; refuses a value that does not belong. */
export function slotText(slot: Slot, value: string, template: string): string {
  try {
    return fill(slot, value);
  } catch (error) {
    if (!(error instanceof SlotRefusal)) throw error;
    throw new PromptTemplateError(
      `prompt template '${template}': {{${slot.name}}} ${error.message}`,
    );
  }
}

/** A value refused by a slot (internal: slotText adds the template and placeholder). */
class SlotRefusal extends Error {}

function fill(slot: Slot, value: string): string {
  switch (slot.kind) {
    case 'element':
      return elementBody(slot.tag ?? '', value);
    case 'attribute':
      return attributeValue(value);
    case 'token':
      if (!TOKEN.test(value)) {
        throw new SlotRefusal(
          `sits in instruction text and takes only a short token (letters, digits and . _ / @ % + -, no spaces), not ${JSON.stringify(value.slice(0, 60))}; text from a skill, a pull request or a comment belongs in a data section on a line of its own`,
        );
      }
      return value;
    case 'sections':
      checkSections(value);
      return value;
  }
}

/** Data sections, each sanitised, with only parenthesised operator notes between them. */
function checkSections(value: string): void {
  let last = 0;
  for (const m of value.matchAll(SECTION)) {
    checkNotes(value.slice(last, m.index));
    const body = m[2] ?? '';
    if (sanitizeUntrusted(body) !== body || SECTION_TAG.test(body)) {
      throw new SlotRefusal(
        `got a data section '${m[1]}' whose text was not sanitised; build it with dataSection()`,
      );
    }
    last = m.index + m[0].length;
  }
  checkNotes(value.slice(last));
}

function checkNotes(between: string): void {
  for (const line of between.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    if (!NOTE_LINE.test(text) || sanitizeUntrusted(text) !== text) {
      throw new SlotRefusal(
        `takes data sections and parenthesised notes only, but got the line ${JSON.stringify(text.slice(0, 60))} outside a data section; wrap untrusted text with dataSection()`,
      );
    }
  }
}
