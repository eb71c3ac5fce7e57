import { parseDocument } from 'yaml';
import { SkillOptimizerError } from '../errors.js';
import type { FileChange, RunStore } from '../store/port.js';
import type { SpecFile } from './reports.js';
import { byPriority, parseSpec, readSpecFiles } from './specs.js';

export { readSpecs } from './specs.js';

/**
 * The picks gate (docs/chain.md, step 3 and its gate): `pick <f1,f2|all|top N>` marks functionalities
 * `picked: true` in their spec.yaml so step 4 writes their probes.
 *
 * Picking only ever adds. No selection un-picks a functionality a human (or an earlier pick)
 * chose, explicit ids included: `pick a` after `pick b` leaves both picked. To drop one, set
 * `picked: false` in its spec.yaml (a direct commit to the work branch is state).
 */

export type PickSelection = { all: true } | { top: number } | { ids: string[] };

/** A pick command the user must correct; the message says how. */
export class PickSelectionError extends SkillOptimizerError {}

const USAGE = 'expected `pick <f1,f2|all|top N>`';
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function parsePickSelection(text: string): PickSelection {
  const trimmed = text.trim();
  if (trimmed === '') throw new PickSelectionError(`nothing to pick: ${USAGE}`);
  if (/^all$/i.test(trimmed)) return { all: true };
  const top = /^top\s*(\S*)$/i.exec(trimmed);
  if (top) {
    const n = top[1] ?? '';
    if (!/^[1-9]\d{0,2}$/.test(n)) {
      throw new PickSelectionError(`'${trimmed}': top needs a positive whole number, e.g. top 3`);
    }
    return { top: Number(n) };
  }
  const ids = trimmed.split(/[\s,]+/).filter((id) => id !== '');
  const bad = ids.filter((id) => !ID.test(id));
  if (bad.length > 0) {
    throw new PickSelectionError(
      `not a functionality id: ${bad.map((b) => `'${b}'`).join(', ')} (ids are kebab-case, such as add-entry); ${USAGE}`,
    );
  }
  return { ids: [...new Set(ids)] };
}

/** The first `n` functionality ids by priority (1 first), ties broken by id. */
export function topPicks(
  specs: ReadonlyArray<Pick<SpecFile, 'functionality' | 'priority'>>,
  n: number,
): string[] {
  return [...specs]
    .sort(byPriority)
    .slice(0, Math.max(0, n))
    .map((s) => s.functionality);
}

/**
 * Sets `picked: true` in the selected specs, keeping every other line of the file (comments and
 * human edits included). `picked` lists every functionality picked afterwards, by priority;
 * `added` those this selection newly picked. Unknown ids are an error naming them.
 */
export async function applyPicks(
  store: RunStore,
  selection: PickSelection,
): Promise<{ changes: FileChange[]; picked: string[]; added: string[] }> {
  const stored = await readSpecFiles(store);
  if (stored.length === 0) {
    throw new PickSelectionError(
      'there is nothing to pick yet: no tests/*/spec.yaml exists; run step design-tests first',
    );
  }
  const known = stored.map((s) => s.spec.functionality);
  let targets: string[];
  if ('all' in selection) targets = known;
  else if ('top' in selection)
    targets = topPicks(
      stored.map((s) => s.spec),
      selection.top,
    );
  else {
    const unknown = selection.ids.filter((id) => !known.includes(id));
    if (unknown.length > 0) {
      throw new PickSelectionError(
        `unknown functionality ${unknown.map((u) => `'${u}'`).join(', ')}; the proposals are: ${known.join(', ')}`,
      );
    }
    targets = selection.ids;
  }

  const changes: FileChange[] = [];
  const added: string[] = [];
  for (const { path, text, spec } of stored) {
    if (!targets.includes(spec.functionality) || spec.picked) continue;
    const doc = parseDocument(text);
    doc.set('picked', true);
    const content = doc.toString();
    parseSpec(content, path, `${store.runDir}/${path}`);
    changes.push({ path, content });
    added.push(spec.functionality);
  }
  const picked = stored
    .map((s) => s.spec)
    .filter((s) => s.picked || added.includes(s.functionality))
    .sort(byPriority)
    .map((s) => s.functionality);
  return { changes, picked, added };
}
