/**
 * A directive aimed at one probe: `<functionality>/<probe>: <text>`. Step 5 turns each rejection
 * into one; step 4 rewrites exactly the probes such directives name.
 */

const AIMED = /^\s*([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)\s*:\s*([\s\S]*\S)\s*$/;

export function parseProbeDirective(directive: string): { id: string; text: string } | null {
  const match = AIMED.exec(directive);
  if (match === null) return null;
  return { id: `${match[1]}/${match[2]}`, text: match[3] ?? '' };
}

const MAX_CHARS = 2_000;

/** One line, so it survives chain.yml and commit messages intact. */
export function probeDirective(id: string, reasons: readonly string[]): string {
  const text = reasons
    .map((r) => r.replace(/\s+/g, ' ').trim())
    .filter((r) => r !== '')
    .join('; ');
  const line = `${id}: ${text === '' ? 'rewrite this probe' : text}`;
  return line.length > MAX_CHARS ? `${line.slice(0, MAX_CHARS - 1)}…` : line;
}
