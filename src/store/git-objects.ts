/** Parsers for the raw git objects `cat-file --batch` returns. */

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/** Git's mode of a subtree entry (`040000` is written without its leading zero). */
export const TREE_MODE = '40000';

/**
 * The entries of a tree object: `<mode> <name>\0<raw oid>` repeated. `oidHex` is the tree's own
 * oid, whose length tells the raw oid size (20 bytes for SHA-1, 32 for SHA-256 repositories).
 */
export function parseTree(content: Buffer, oidHex: string): TreeEntry[] {
  const oidBytes = oidHex.length / 2;
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > content.length) {
      throw new Error(`tree ${oidHex} is malformed at byte ${at}`);
    }
    entries.push({
      mode: content.subarray(at, space).toString('latin1'),
      name: content.subarray(space + 1, nul).toString('utf8'),
      oid: content.subarray(nul + 1, nul + 1 + oidBytes).toString('hex'),
    });
    at = nul + 1 + oidBytes;
  }
  return entries;
}

/** The parent oids of a commit object, in order (none for a root commit). */
export function parseCommitParents(content: Buffer): string[] {
  const text = content.toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  return header
    .split('\n')
    .filter((line) => line.startsWith('parent '))
    .map((line) => line.slice('parent '.length).trim());
}
