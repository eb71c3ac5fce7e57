/**
 * The message of a completed step's commit:
 * `skill-optimizer(<slug>): <NN> <step> — <one-line result>`.
 * Whitespace in the result (newlines included) collapses to single spaces.
 */
export function stepCommitMessage(
  slug: string,
  step: number,
  name: string,
  result: string,
): string {
  const number = String(step).padStart(2, '0');
  const line = result.replace(/\s+/g, ' ').trim();
  return `skill-optimizer(${slug}): ${number} ${name} — ${line}`;
}
