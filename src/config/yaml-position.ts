import { type Document, isMap, isNode, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** 1-based line and column, as editors show them. */
export interface Position {
  line: number;
  col: number;
}

function startOf(node: Node | null | undefined, lineCounter: LineCounter): Position | null {
  const offset = node?.range?.[0];
  return offset === undefined ? null : lineCounter.linePos(offset);
}

/**
 * Where the value at `path` is written (or, with `target: 'key'`, its key — used for unknown
 * keys). When the path runs out of the document (a missing key, an empty value, an alias), the
 * deepest position found on the way is returned; the document start when nothing matched.
 */
export function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  target: 'value' | 'key' = 'value',
): Position {
  let node: unknown = doc.contents;
  let best = startOf(doc.contents, lineCounter) ?? { line: 1, col: 1 };
  for (const [index, step] of path.entries()) {
    const last = index === path.length - 1;
    let keyNode: Node | null = null;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (pair === undefined) return best;
      keyNode = isNode(pair.key) ? pair.key : null;
      next = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      next = node.items[step];
    } else {
      return best;
    }
    if (last && target === 'key' && keyNode !== null) {
      return startOf(keyNode, lineCounter) ?? best;
    }
    const here = isNode(next) ? startOf(next, lineCounter) : null;
    best = here ?? startOf(keyNode, lineCounter) ?? best;
    if (!isNode(next)) return best;
    node = next;
  }
  return best;
}
